namespace FlashKMeans.Data;

/// <summary>
/// Serves a source that the validation pass (pass 1) has read, and holds every later pass to what that pass
/// found: the same number of rows, in order, every feature finite and every weight finite and non-negative.
/// A source that changes between passes (a cursor over a table that is being written, a file rewritten under
/// the fit) fails with an <see cref="InvalidDataException"/> that says how, instead of quietly becoming a model of
/// data nobody has.
/// </summary>
internal sealed class PassCheckedBatchSource : IBatchSource
{
    private readonly IBatchSource _inner;
    private readonly long _rows;
    private int _passes = 1;

    /// <param name="inner">The validated source.</param>
    /// <param name="rows">The rows the validation pass read.</param>
    public PassCheckedBatchSource(IBatchSource inner, long rows)
    {
        _inner = inner;
        _rows = rows;
    }

    public int Dimension => _inner.Dimension;

    /// <summary>The validation pass's count: later passes must match it.</summary>
    public long? RowCount => _rows;

    public bool HasWeights => _inner.HasWeights;

    public IBatchReader OpenReader() => new Reader(this, _inner.OpenReader(), Interlocked.Increment(ref _passes));

    /// <summary>
    /// Whether to check <paramref name="source"/>'s later passes: rows held in memory or a mapped file cannot come back
    /// different in number, and a source that keeps its own copy of the pass read knows its passes repeat.
    /// </summary>
    public static bool Needed(IBatchSource source) => source is not IRowBlockSource and not IRepeatingBatchSource { PassesRepeat: true };

    private sealed class Reader(PassCheckedBatchSource owner, IBatchReader inner, int pass) : IBatchReader
    {
        private long _read;

        public bool TryRead(out DataBatch batch)
        {
            long expected = owner._rows;
            if (!inner.TryRead(out batch))
            {
                if (_read != expected)
                    throw Changed($"pass 1 read {expected} rows, pass {pass} only {_read}");
                return false;
            }
            if (batch.FirstRow != _read)
                throw Changed($"on pass {pass} a batch starts at row {batch.FirstRow} where row {_read} was expected");
            if (batch.Dimension != owner.Dimension)
                throw Changed($"on pass {pass} the batch at row {_read} has {batch.Dimension} features, not {owner.Dimension}");
            if (_read + batch.RowCount > expected)
                throw Changed($"pass 1 read {expected} rows, pass {pass} at least {_read + batch.RowCount}");
            var rows = batch.Rows.Span;
            if (!DataValidator.AllFinite(rows))
            {
                int at = 0;
                while (float.IsFinite(rows[at]))
                    at++;
                throw Changed($"on pass {pass} row {_read + at / batch.Dimension} has {rows[at]} at feature {at % batch.Dimension}, which pass 1 found finite");
            }
            if (owner.HasWeights)
            {
                var weights = batch.Weights.Span;
                if (weights.Length != batch.RowCount)
                    throw Changed($"on pass {pass} the batch at row {_read} has no weights");
                if (DataValidator.FirstBadWeight(weights) is var bad and >= 0)
                    throw Changed($"on pass {pass} row {_read + bad} has weight {weights[bad]}, which pass 1 found finite and non-negative");
            }
            _read += batch.RowCount;
            return true;
        }

        private static InvalidDataException Changed(string how) =>
            new($"The data changed between passes: {how}. A fit reads its source several times and needs the same rows every time.");

        public void Dispose() => inner.Dispose();
    }
}
