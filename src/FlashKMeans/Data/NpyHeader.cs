using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace FlashKMeans.Data;

/// <summary>
/// The header of a NumPy <c>.npy</c> file holding a 2-D little-endian float32 or float16 array in C order:
/// magic <c>\x93NUMPY</c>, version, header length, then a Python dict literal padded so the data is
/// 64-byte aligned.
/// </summary>
public sealed partial record NpyHeader(long Rows, int Columns, RowElementType ElementType, long DataOffset)
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads and checks the header at the start of <paramref name="stream"/>.</summary>
    /// <exception cref="InvalidDataException">Not a .npy file, or not a 2-D float32/float16 C-order array.</exception>
    public static NpyHeader Read(Stream stream, string name)
    {
        Span<byte> prefix = stackalloc byte[10];
        if (stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false) < prefix.Length || !prefix[..6].SequenceEqual(Magic))
            throw new InvalidDataException($"{name}: not a .npy file (bad magic).");
        int major = prefix[6];
        long headerLength;
        int prefixLength;
        if (major == 1)
        {
            headerLength = prefix[8] | (prefix[9] << 8);
            prefixLength = 10;
        }
        else if (major is 2 or 3)
        {
            Span<byte> rest = stackalloc byte[2];
            if (stream.ReadAtLeast(rest, 2, throwOnEndOfStream: false) < 2)
                throw new InvalidDataException($"{name}: truncated .npy header.");
            headerLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian([prefix[8], prefix[9], rest[0], rest[1]]);
            prefixLength = 12;
        }
        else
        {
            throw new InvalidDataException($"{name}: unsupported .npy version {major}.");
        }
        if (headerLength is < 1 or > 1 << 20)
            throw new InvalidDataException($"{name}: implausible .npy header length {headerLength}.");
        var text = new byte[headerLength];
        if (stream.ReadAtLeast(text, text.Length, throwOnEndOfStream: false) < text.Length)
            throw new InvalidDataException($"{name}: truncated .npy header.");
        string header = Encoding.Latin1.GetString(text);

        var descr = DescrPattern().Match(header);
        var order = FortranPattern().Match(header);
        var shape = ShapePattern().Match(header);
        if (!descr.Success || !order.Success || !shape.Success)
            throw new InvalidDataException($"{name}: unreadable .npy header '{header.Trim()}'.");
        var type = descr.Groups[1].Value switch
        {
            "<f4" => RowElementType.Float32,
            "<f2" => RowElementType.Float16,
            var other => throw new InvalidDataException($"{name}: dtype '{other}' is not supported; use little-endian float32 ('<f4') or float16 ('<f2')."),
        };
        if (order.Groups[1].Value == "True")
            throw new InvalidDataException($"{name}: Fortran-order arrays are not supported; save with C order.");
        var parts = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var dims = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out dims[i]))
                throw new InvalidDataException($"{name}: unreadable .npy shape ({shape.Groups[1].Value}).");
        }
        if (dims.Length != 2 || dims[1] < 1 || dims[1] > int.MaxValue || dims[0] < 0)
            throw new InvalidDataException($"{name}: expected a 2-D array (rows, features), found shape ({shape.Groups[1].Value}).");
        return new NpyHeader(dims[0], (int)dims[1], type, prefixLength + headerLength);
    }

    /// <summary>Writes a version-1 header for a (rows, columns) array of <paramref name="type"/>.</summary>
    public static void Write(Stream stream, long rows, int columns, RowElementType type)
    {
        string descr = type == RowElementType.Float32 ? "<f4" : "<f2";
        string dict = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {columns}), }}");
        int total = 10 + dict.Length + 1;
        int padded = (total + 63) / 64 * 64;
        string header = dict + new string(' ', padded - total) + "\n";
        stream.Write(Magic);
        stream.WriteByte(1);
        stream.WriteByte(0);
        stream.WriteByte((byte)(header.Length & 0xFF));
        stream.WriteByte((byte)(header.Length >> 8));
        stream.Write(Encoding.Latin1.GetBytes(header));
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
