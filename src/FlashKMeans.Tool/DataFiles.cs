using System.Globalization;
using System.Text;

namespace FlashKMeans.Tool;

/// <summary>Opens the tool's input formats: CSV, Parquet, raw float32 rows and NumPy .npy (float32 or float16, C order).</summary>
internal static class DataFiles
{
    /// <param name="path">The file.</param>
    /// <param name="dimension">Features per row of a raw file.</param>
    /// <param name="columns">For CSV and Parquet: the columns to read, by name or 1-based number; null reads them all (Parquet: every numeric column).</param>
    public static ToolInput Open(string path, int? dimension, IReadOnlyList<string>? columns = null)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (columns is not null && extension is not (".csv" or ".txt" or ".parquet"))
            throw new ArgumentException($"{path}: --columns applies to CSV and Parquet files.");
        switch (extension)
        {
            case ".csv" or ".txt":
            {
                var (data, d) = ReadCsv(path, columns);
                return ToolInput.InMemory(data, d);
            }
            case ".parquet":
            {
                var (data, d) = ParquetFiles.Read(path, columns, Select);
                return ToolInput.InMemory(data, d);
            }
            case ".npy":
                return ToolInput.Mapped(FlashKMeans.Data.MemoryMappedBatchSource.OpenNpy(path));
            default:
                if (!File.Exists(path))
                    throw new FileNotFoundException($"Could not find file '{path}'.", path);
                return ToolInput.Mapped(FlashKMeans.Data.MemoryMappedBatchSource.OpenRaw(path,
                    dimension ?? throw new ArgumentException($"{path}: raw float32 files need --dimension.")));
        }
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
}
