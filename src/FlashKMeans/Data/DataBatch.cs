namespace FlashKMeans.Data;

/// <summary>A run of consecutive rows of a pass: row-major features and optional weights.</summary>
public readonly struct DataBatch
{
    /// <summary>Creates a batch.</summary>
    /// <param name="firstRow">Index of the batch's first row within the pass.</param>
    /// <param name="rows">Row-major features, a multiple of <paramref name="dimension"/> long.</param>
    /// <param name="dimension">Features per row.</param>
    /// <param name="weights">One weight per row, or empty for unit weights.</param>
    public DataBatch(long firstRow, ReadOnlyMemory<float> rows, int dimension, ReadOnlyMemory<float> weights = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstRow);
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        if (rows.Length % dimension != 0)
            throw new ArgumentException($"The batch holds {rows.Length} values, not a multiple of the dimension {dimension}.", nameof(rows));
        int count = rows.Length / dimension;
        if (!weights.IsEmpty && weights.Length != count)
            throw new ArgumentException($"The batch has {count} rows but {weights.Length} weights.", nameof(weights));
        FirstRow = firstRow;
        Rows = rows;
        Dimension = dimension;
        Weights = weights;
    }

    /// <summary>Index of the first row within the pass.</summary>
    public long FirstRow { get; }

    /// <summary>Row-major features.</summary>
    public ReadOnlyMemory<float> Rows { get; }

    /// <summary>Features per row.</summary>
    public int Dimension { get; }

    /// <summary>Per-row weights, or empty for unit weights.</summary>
    public ReadOnlyMemory<float> Weights { get; }

    /// <summary>Rows in the batch.</summary>
    public int RowCount => Rows.Length / Dimension;
}
