using System.Buffers.Binary;

namespace FlashKMeans.Serialization;

/// <summary>
/// The binary model format. All numbers little-endian.
/// <code>
/// offset  size        field
/// 0       4           magic "FKMM"
/// 4       2           format version (1)
/// 6       2           flags (0)
/// 8       4           K (int32, ≥ 1)
/// 12      4           d (int32, ≥ 1)
/// 16      4           distance (int32: 0 squared Euclidean, 1 cosine)
/// 20      4           iterations (int32)
/// 24      4           converged (int32, 0 or 1)
/// 28      8           inertia (float64)
/// 36      8           empty clusters re-seeded (int64)
/// 44      4           H, inertia history length (int32)
/// 48      8·H         inertia history (float64)
/// ..      4·K·d       centroids, row-major (float32)
/// ..      4           CRC-32 (IEEE) of every preceding byte
/// </code>
/// A reader rejects a wrong magic, an unknown version, impossible sizes, a short stream and a checksum mismatch.
/// </summary>
public static class KMeansModelFormat
{
    /// <summary>The version this code writes.</summary>
    public const ushort Version = 1;

    private static ReadOnlySpan<byte> Magic => "FKMM"u8;
    private const int HeaderSize = 48;

    /// <summary>Serialises <paramref name="model"/> into <paramref name="stream"/>.</summary>
    public static void Write(KMeansModel model, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(stream);
        var history = model.InertiaHistory;
        long size = HeaderSize + 8L * history.Count + 4L * model.Centroids.Length + 4;
        var buffer = new byte[size];
        var span = buffer.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], Version);
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], model.NumberOfClusters);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], model.Dimension);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], (int)model.Distance);
        BinaryPrimitives.WriteInt32LittleEndian(span[20..], model.Iterations);
        BinaryPrimitives.WriteInt32LittleEndian(span[24..], model.Converged ? 1 : 0);
        BinaryPrimitives.WriteDoubleLittleEndian(span[28..], model.Inertia);
        BinaryPrimitives.WriteInt64LittleEndian(span[36..], model.EmptyClustersReseeded);
        BinaryPrimitives.WriteInt32LittleEndian(span[44..], history.Count);
        int offset = HeaderSize;
        foreach (double value in history)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(span[offset..], value);
            offset += 8;
        }
        foreach (float value in model.Centroids.Span)
        {
            BinaryPrimitives.WriteSingleLittleEndian(span[offset..], value);
            offset += 4;
        }
        BinaryPrimitives.WriteUInt32LittleEndian(span[offset..], Crc32.Compute(span[..offset]));
        stream.Write(buffer);
    }

    /// <summary>Deserialises a model.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a valid model.</exception>
    public static KMeansModel Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[HeaderSize];
        ReadExactly(stream, header[..4], "magic");
        if (!header[..4].SequenceEqual(Magic))
            throw new InvalidDataException("Not a FlashKMeans model: the file does not start with \"FKMM\".");
        ReadExactly(stream, header[4..], "header");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header[4..]);
        if (version != Version)
            throw new InvalidDataException($"Unsupported FlashKMeans model version {version}; this library reads version {Version}.");
        int k = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        int d = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        int distance = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        int iterations = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        int converged = BinaryPrimitives.ReadInt32LittleEndian(header[24..]);
        double inertia = BinaryPrimitives.ReadDoubleLittleEndian(header[28..]);
        long reseeded = BinaryPrimitives.ReadInt64LittleEndian(header[36..]);
        int historyCount = BinaryPrimitives.ReadInt32LittleEndian(header[44..]);
        if (k < 1 || d < 1 || (long)k * d > Array.MaxLength || historyCount < 0 || historyCount > 100_000_000
            || !Enum.IsDefined((KMeansDistance)distance) || converged is not (0 or 1) || iterations < 0)
            throw new InvalidDataException($"Corrupted FlashKMeans model: impossible header (K={k}, d={d}, distance={distance}, history={historyCount}).");

        long bodySize = 8L * historyCount + 4L * k * d + 4;
        if (stream.CanSeek && stream.Length - stream.Position < bodySize)
            throw new InvalidDataException($"Truncated FlashKMeans model: {bodySize} more bytes expected, {stream.Length - stream.Position} present.");
        var all = new byte[HeaderSize + bodySize];
        header.CopyTo(all);
        ReadExactly(stream, all.AsSpan(HeaderSize), "body");
        var span = all.AsSpan();
        int end = all.Length - 4;
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(span[end..]);
        if (stored != Crc32.Compute(span[..end]))
            throw new InvalidDataException("Corrupted FlashKMeans model: checksum mismatch.");

        var history = new double[historyCount];
        int offset = HeaderSize;
        for (int i = 0; i < historyCount; i++, offset += 8)
            history[i] = BinaryPrimitives.ReadDoubleLittleEndian(span[offset..]);
        var centroids = new float[k * d];
        for (int i = 0; i < centroids.Length; i++, offset += 4)
            centroids[i] = BinaryPrimitives.ReadSingleLittleEndian(span[offset..]);
        if (!Data.DataValidator.AllFinite(centroids))
            throw new InvalidDataException("Corrupted FlashKMeans model: the centroids contain non-finite values.");
        return KMeansModel.Restore(centroids, d, (KMeansDistance)distance, inertia, iterations, converged == 1, reseeded, history);
    }

    private static void ReadExactly(Stream stream, Span<byte> destination, string part)
    {
        int read = 0;
        while (read < destination.Length)
        {
            int n = stream.Read(destination[read..]);
            if (n == 0)
                throw new InvalidDataException($"Truncated FlashKMeans model: the {part} ends after {read} of {destination.Length} bytes.");
            read += n;
        }
    }
}
