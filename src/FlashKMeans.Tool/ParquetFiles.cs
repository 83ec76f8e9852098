using Parquet;
using Parquet.Schema;

namespace FlashKMeans.Tool;

/// <summary>
/// Reads Parquet files: the chosen columns (by name or 1-based number among the numeric ones), or every numeric column,
/// row group by row group into one row-major float32 array. Nulls become NaN, which the engine rejects with the row
/// and feature named.
/// </summary>
internal static class ParquetFiles
{
    public static (float[] Data, int Dimension) Read(string path, IReadOnlyList<string>? columns,
        Func<string, IReadOnlyList<string>?, string[]?, int[]?> select)
    {
        using var stream = File.OpenRead(path);
        var reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult();
        try
        {
            return Read(reader, path, columns, select);
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static (float[] Data, int Dimension) Read(ParquetReader reader, string path, IReadOnlyList<string>? columns,
        Func<string, IReadOnlyList<string>?, string[]?, int[]?> select)
    {
        var numeric = reader.Schema.GetDataFields().Where(f => IsNumeric(f.ClrType)).ToArray();
        if (numeric.Length == 0)
            throw new InvalidDataException($"{path}: no numeric column.");
        var chosen = select(path, columns, numeric.Select(f => f.Name).ToArray()) is { } indices
            ? indices.Select(i => i < numeric.Length ? numeric[i] : throw new ArgumentException($"{path}: there are {numeric.Length} numeric columns, not {i + 1}.")).ToArray()
            : numeric;
        int d = chosen.Length;
        long rows = 0;
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var counted = reader.OpenRowGroupReader(g);
            rows += counted.RowCount;
        }
        var data = new float[checked(rows * d)];
        long first = 0;
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            int count = checked((int)group.RowCount);
            var column = new double[count];
            for (int c = 0; c < d; c++)
            {
                ReadAsDouble(group, chosen[c], column);
                for (int r = 0; r < count; r++)
                    data[(first + r) * d + c] = (float)column[r];
            }
            first += count;
        }
        return (data, d);
    }

    /// <summary>One column of a row group as doubles, whatever its numeric type; nulls as NaN.</summary>
    private static void ReadAsDouble(ParquetRowGroupReader group, DataField field, double[] destination)
    {
        var type = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
        if (type == typeof(float)) Read<float>(group, field, destination, v => v);
        else if (type == typeof(double)) Read<double>(group, field, destination, v => v);
        else if (type == typeof(int)) Read<int>(group, field, destination, v => v);
        else if (type == typeof(long)) Read<long>(group, field, destination, v => v);
        else if (type == typeof(short)) Read<short>(group, field, destination, v => v);
        else if (type == typeof(byte)) Read<byte>(group, field, destination, v => v);
        else Read<decimal>(group, field, destination, v => (double)v);
    }

    private static void Read<T>(ParquetRowGroupReader group, DataField field, double[] destination, Func<T, double> convert) where T : struct
    {
        if (field.IsNullable)
        {
            var values = new T?[destination.Length];
            group.ReadAsync<T>(field, values.AsMemory()).GetAwaiter().GetResult();
            for (int i = 0; i < values.Length; i++)
                destination[i] = values[i] is { } v ? convert(v) : double.NaN;
        }
        else
        {
            var values = new T[destination.Length];
            group.ReadAsync<T>(field, values.AsMemory()).GetAwaiter().GetResult();
            for (int i = 0; i < values.Length; i++)
                destination[i] = convert(values[i]);
        }
    }

    private static bool IsNumeric(Type type) =>
        (Nullable.GetUnderlyingType(type) ?? type) is var t
        && (t == typeof(float) || t == typeof(double) || t == typeof(int) || t == typeof(long) || t == typeof(short) || t == typeof(byte) || t == typeof(decimal));
}
