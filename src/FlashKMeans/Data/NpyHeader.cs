using System.Globalization;
using System.Text;

namespace FlashKMeans.Data;

/// <summary>
/// The header of a NumPy <c>.npy</c> file holding a 2-D little-endian float32 or float16 array in C order:
/// magic <c>\x93NUMPY</c>, version, header length, then a Python dict literal padded so the data is
/// 64-byte aligned.
/// </summary>
internal sealed record NpyHeader(long Rows, int Columns, RowElementType ElementType, long DataOffset)
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

        var dict = HeaderDictionary.Parse(header, name);
        if (dict.GetValueOrDefault("descr") is not string descr || dict.GetValueOrDefault("fortran_order") is not bool fortran
            || dict.GetValueOrDefault("shape") is not string[] parts)
            throw new InvalidDataException($"{name}: unreadable .npy header '{header.Trim()}': it needs 'descr' (a string), 'fortran_order' (True or False) and 'shape' (a tuple).");
        var type = descr switch
        {
            "<f4" => RowElementType.Float32,
            "<f2" => RowElementType.Float16,
            var other => throw new InvalidDataException($"{name}: dtype '{other}' is not supported; use little-endian float32 ('<f4') or float16 ('<f2')."),
        };
        if (fortran)
            throw new InvalidDataException($"{name}: Fortran-order arrays are not supported; save with C order.");
        string shapeText = string.Join(", ", parts);
        var dims = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out dims[i]))
                throw new InvalidDataException($"{name}: unreadable .npy shape ({shapeText}).");
        }
        if (dims.Length != 2 || dims[1] < 1 || dims[1] > int.MaxValue || dims[0] < 0)
            throw new InvalidDataException($"{name}: expected a 2-D array (rows, features), found shape ({shapeText}).");
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

    /// <summary>
    /// The header's Python dict literal, read as Python reads it: keys are string literals, a key given twice keeps
    /// its last value, and a string value is opaque (a 'descr' inside another key's string is not a key). Values are
    /// a string, a bool (True, False), a tuple (its elements' text) or another bare token (its text).
    /// </summary>
    private ref struct HeaderDictionary(string text, string name)
    {
        private int _at;

        public static Dictionary<string, object> Parse(string text, string name)
        {
            var parser = new HeaderDictionary(text, name);
            var result = new Dictionary<string, object>(StringComparer.Ordinal);
            parser.Expect('{');
            while (true)
            {
                parser.SkipSpace();
                if (parser.TryTake('}'))
                    break;
                string key = parser.ReadString();
                parser.Expect(':');
                result[key] = parser.ReadValue();
                parser.SkipSpace();
                if (parser.TryTake(','))
                    continue;
                parser.Expect('}');
                break;
            }
            return result;
        }

        private object ReadValue()
        {
            SkipSpace();
            if (_at < text.Length && text[_at] is '\'' or '"')
                return ReadString();
            if (TryTake('('))
            {
                var items = new List<string>();
                while (true)
                {
                    SkipSpace();
                    if (TryTake(')'))
                        return items.ToArray();
                    items.Add(ReadToken());
                    SkipSpace();
                    if (!TryTake(','))
                    {
                        Expect(')');
                        return items.ToArray();
                    }
                }
            }
            string token = ReadToken();
            return token switch { "True" => true, "False" => false, _ => token };
        }

        private string ReadToken()
        {
            int start = _at;
            while (_at < text.Length && (char.IsLetterOrDigit(text[_at]) || text[_at] is '_' or '-' or '+' or '.'))
                _at++;
            if (_at == start)
                throw Unreadable();
            return text[start.._at];
        }

        private string ReadString()
        {
            SkipSpace();
            if (_at >= text.Length || text[_at] is not ('\'' or '"'))
                throw Unreadable();
            char quote = text[_at++];
            var value = new StringBuilder();
            while (_at < text.Length && text[_at] != quote)
            {
                if (text[_at] == '\\' && _at + 1 < text.Length)
                    _at++;
                value.Append(text[_at++]);
            }
            if (_at >= text.Length)
                throw Unreadable();
            _at++;
            return value.ToString();
        }

        private void SkipSpace()
        {
            while (_at < text.Length && char.IsWhiteSpace(text[_at]))
                _at++;
        }

        private bool TryTake(char c)
        {
            SkipSpace();
            if (_at < text.Length && text[_at] == c)
            {
                _at++;
                return true;
            }
            return false;
        }

        private void Expect(char c)
        {
            if (!TryTake(c))
                throw Unreadable();
        }

        private readonly InvalidDataException Unreadable() =>
            new($"{name}: unreadable .npy header '{text.Trim()}' (at character {_at}).");
    }
}
