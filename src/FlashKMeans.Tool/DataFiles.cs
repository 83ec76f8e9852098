using System.Globalization;
using System.Text;

namespace FlashKMeans.Tool;

/// <summary>Reads the tool's input formats: CSV, Parquet, raw float32 rows, and NumPy .npy (float32, C order).</summary>
internal static class DataFiles
{
    /// <param name="path">The file.</param>
    /// <param name="dimension">Features per row of a raw file.</param>
    /// <param name="columns">For CSV and Parquet: the columns to read, by name or 1-based number; null reads them all (Parquet: every numeric column).</param>
    public static (float[] Data, int Dimension) Read(string path, int? dimension, IReadOnlyList<string>? columns = null)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (columns is not null && extension is not (".csv" or ".txt" or ".parquet"))
            throw new ArgumentException($"{path}: --columns applies to CSV and Parquet files.");
        return extension switch
        {
            ".csv" or ".txt" => ReadCsv(path, columns),
            ".npy" => ReadNpy(path),
            ".parquet" => ParquetFiles.Read(path, columns, Select),
            _ => ReadRaw(path, dimension ?? throw new ArgumentException($"{path}: raw float32 files need --dimension."))
        };
    }

    private static (float[], int) ReadCsv(string path, IReadOnlyList<string>? columns)
    {
        var values = new List<float>();
        int fieldCount = -1, line = 0;
        int[]? selected = null;
        foreach (string text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
                continue;
            var fields = text.Split(',');
            if (fieldCount < 0 && !float.TryParse(fields[0], NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            {
                // A header line: it names the columns --columns may select by name.
                fieldCount = fields.Length;
                selected = Select(path, columns, fields.Select(f => f.Trim()).ToArray());
                continue;
            }
            if (fieldCount < 0)
            {
                fieldCount = fields.Length;
                selected = Select(path, columns, null);
            }
            if (fields.Length != fieldCount)
                throw new InvalidDataException($"{path}:{line}: {fields.Length} fields where earlier lines have {fieldCount}.");
            foreach (int column in selected ?? Enumerable.Range(0, fieldCount))
            {
                if (column >= fields.Length)
                    throw new InvalidDataException($"{path}:{line}: no column {column + 1}.");
                if (!float.TryParse(fields[column], NumberStyles.Float, CultureInfo.InvariantCulture, out float value))
                    throw new InvalidDataException($"{path}:{line}: '{fields[column]}' is not a number.");
                values.Add(value);
            }
        }
        int dimension = selected?.Length ?? Math.Max(fieldCount, 1);
        return (values.ToArray(), dimension);
    }

    /// <summary>The 0-based columns <paramref name="columns"/> names (header names, or 1-based numbers); null for all.</summary>
    internal static int[]? Select(string path, IReadOnlyList<string>? columns, string[]? header)
    {
        if (columns is null)
            return null;
        return columns.Select(column =>
        {
            if (header is not null && Array.IndexOf(header, column) is int named and >= 0)
                return named;
            if (int.TryParse(column, NumberStyles.Integer, CultureInfo.InvariantCulture, out int number) && number >= 1)
                return number - 1;
            throw new ArgumentException(header is null
                ? $"{path}: column '{column}' is not a number from 1, and the file has no header to name it."
                : $"{path}: no column '{column}'; the header has {string.Join(", ", header)}.");
        }).ToArray();
    }

    private static (float[], int) ReadRaw(string path, int dimension)
    {
        using var stream = File.OpenRead(path);
        if (stream.Length % (4L * dimension) != 0)
            throw new InvalidDataException($"{path}: {stream.Length} bytes is not a whole number of {dimension}-float rows.");
        var data = new float[stream.Length / 4];
        ReadInto(stream, data, path);
        return (data, dimension);
    }

    /// <summary>Fills <paramref name="data"/> from the stream's bytes directly: the file is never held twice.</summary>
    private static void ReadInto(Stream stream, float[] data, string path)
    {
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan());
        while (!bytes.IsEmpty)
        {
            int read = stream.Read(bytes);
            if (read == 0)
                throw new InvalidDataException($"{path}: truncated data.");
            bytes = bytes[read..];
        }
    }

    private static (float[], int) ReadNpy(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        // The magic string is the byte 0x93 then "NUMPY" (a "\x93" escape in a UTF-8 literal would be two bytes).
        if (!reader.ReadBytes(6).AsSpan().SequenceEqual(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' }))
            throw new InvalidDataException($"{path}: not a .npy file.");
        byte major = reader.ReadByte();
        reader.ReadByte();
        int headerLength = major == 1 ? reader.ReadUInt16() : (int)reader.ReadUInt32();
        string header = Encoding.Latin1.GetString(reader.ReadBytes(headerLength));
        if (!header.Contains("'<f4'") || header.Contains("'fortran_order': True"))
            throw new InvalidDataException($"{path}: only little-endian float32 arrays in C order are supported ({header.Trim()}).");
        int open = header.IndexOf('(', header.IndexOf("'shape'", StringComparison.Ordinal));
        var dims = header[(open + 1)..header.IndexOf(')', open)]
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
        if (dims.Length != 2)
            throw new InvalidDataException($"{path}: expected a 2-D array, found shape ({string.Join(", ", dims)}).");
        var data = new float[dims[0] * dims[1]];
        ReadInto(stream, data, path);
        return (data, (int)dims[1]);
    }
}
