namespace FlashKMeans.Primitives;

/// <summary>CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), table-driven.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    /// <summary>The running state before any byte: pass it to <see cref="Append"/>, and the last state to <see cref="Finish"/>.</summary>
    public const uint Initial = 0xFFFFFFFFu;

    public static uint Compute(ReadOnlySpan<byte> data) => Finish(Append(Initial, data));

    /// <summary>Adds <paramref name="data"/> to a running state, so that data too large for one buffer can be checked in parts.</summary>
    public static uint Append(uint state, ReadOnlySpan<byte> data)
    {
        uint crc = state;
        foreach (byte b in data)
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    /// <summary>The checksum of everything appended to <paramref name="state"/>.</summary>
    public static uint Finish(uint state) => ~state;

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int bit = 0; bit < 8; bit++)
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        return table;
    }
}
