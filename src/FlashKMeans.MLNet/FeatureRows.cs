using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// A known-size vector column of Single read into one n × d row-major array, for the work that needs every row in memory
/// at once (the choice of K's indices). The rows are held once: in an array of the view's row count where the view knows
/// it, otherwise in blocks copied into the array at the end.
/// </summary>
internal static class FeatureRows
{
    /// <summary>Rows per block while the row count is unknown.</summary>
    private const int BlockRows = 1 << 14;

    /// <summary>The rows of <paramref name="column"/> (a known-size vector of Single), in cursor order.</summary>
    /// <exception cref="NotSupportedException">More values than one array holds.</exception>
    /// <exception cref="InvalidDataException">A view that yields another number of rows than its row count.</exception>
    public static float[] Read(IDataView data, DataViewSchema.Column column, CancellationToken cancellationToken)
    {
        int d = ((VectorDataViewType)column.Type).Size;
        long? known = data.GetRowCount();
        if (known is long rowCount && rowCount * d > Array.MaxLength)
            throw new NotSupportedException($"{rowCount} rows of {d} features are more values than one array holds ({Array.MaxLength}); choose K on a sample.");
        var rows = known is long count ? new float[count * d] : null;
        var blocks = new List<float[]>();
        long read = 0;
        using (var cursor = data.GetRowCursor([column]))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(column);
            VBuffer<float> buffer = default;
            while (cursor.MoveNext())
            {
                if ((read & 1023) == 0)
                    cancellationToken.ThrowIfCancellationRequested();
                getter(ref buffer);
                Span<float> destination;
                if (rows is not null)
                {
                    if (read == known)
                        throw new InvalidDataException($"The data view said it holds {known} rows but yields more; it must not change while it is read.");
                    destination = rows.AsSpan((int)(read * d), d);
                }
                else
                {
                    int inBlock = (int)(read % BlockRows);
                    if (inBlock == 0)
                    {
                        if (read * d >= Array.MaxLength)
                            throw new NotSupportedException($"More than {read} rows of {d} features are more values than one array holds ({Array.MaxLength}); choose K on a sample.");
                        blocks.Add(new float[BlockRows * d]);
                    }
                    destination = blocks[^1].AsSpan(inBlock * d, d);
                }
                buffer.CopyTo(destination);
                read++;
            }
        }
        if (rows is not null)
        {
            if (read != known)
                throw new InvalidDataException($"The data view said it holds {known} rows but yields {read}; it must not change while it is read.");
            return rows;
        }
        if (read * d > Array.MaxLength)
            throw new NotSupportedException($"{read} rows of {d} features are more values than one array holds ({Array.MaxLength}); choose K on a sample.");
        rows = new float[read * d];
        for (int b = 0; b < blocks.Count; b++)
        {
            long first = (long)b * BlockRows;
            int inBlock = (int)Math.Min(BlockRows, read - first);
            blocks[b].AsSpan(0, inBlock * d).CopyTo(rows.AsSpan((int)(first * d)));
            blocks[b] = [];  // let each block go as soon as it is copied
        }
        return rows;
    }
}
