using FlashKMeans.Data;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// Serves an <see cref="IDataView"/> to the engine as a multi-pass <see cref="IBatchSource"/>: every pass is
/// one fresh cursor over the feature (and weight) column, copied row by row into a pinned batch buffer of
/// <c>batchRows × d</c> floats. The whole data set never sits in managed arrays; only one batch does.
/// </summary>
/// <remarks>
/// Rows whose features are not all finite, or whose weight is NaN, infinite or negative, are "missing", as
/// ML.NET's KMeans calls them: they are skipped and counted, or rejected with an error naming the row when
/// <see cref="RejectMissing"/> is set. Skipping is the same on every pass, so passes stay identical.
/// </remarks>
internal sealed class CursorBatchSource : IBatchSource
{
    private readonly IDataView _data;
    private readonly DataViewSchema.Column _features;
    private readonly DataViewSchema.Column? _weights;
    private readonly int _batchRows;
    private float[]? _spareRows;
    private float[]? _spareWeights;
    private int _passes;

    public CursorBatchSource(IDataView data, DataViewSchema.Column features, DataViewSchema.Column? weights, int batchRows, bool rejectMissing)
    {
        _data = data;
        _features = features;
        _weights = weights;
        _batchRows = batchRows;
        RejectMissing = rejectMissing;
        Dimension = ((VectorDataViewType)features.Type).Size;
    }

    /// <inheritdoc />
    public int Dimension { get; }

    /// <summary>Rows served per pass: unknown until a pass has counted the missing rows.</summary>
    public long? RowCount { get; private set; }

    /// <inheritdoc />
    public bool HasWeights => _weights.HasValue;

    /// <summary>Whether a missing row is an error rather than skipped.</summary>
    public bool RejectMissing { get; }

    /// <summary>Rows skipped in a complete pass because of missing features or bad weights; <c>null</c> before one.</summary>
    public long? SkippedRows { get; private set; }

    /// <summary>Cursor passes opened so far (one per engine pass).</summary>
    public int Passes => _passes;

    /// <inheritdoc />
    public IBatchReader OpenReader()
    {
        Interlocked.Increment(ref _passes);
        return new Reader(this);
    }

    // One spare buffer pair is kept between passes so that a 300-iteration fit allocates (and pins) once.
    private float[] RentRows() => Interlocked.Exchange(ref _spareRows, null)
        ?? GC.AllocateUninitializedArray<float>(checked(_batchRows * Dimension), pinned: true);

    private float[] RentWeights() => Interlocked.Exchange(ref _spareWeights, null)
        ?? GC.AllocateUninitializedArray<float>(_batchRows, pinned: true);

    private sealed class Reader : IBatchReader
    {
        private readonly CursorBatchSource _source;
        private readonly DataViewRowCursor _cursor;
        private readonly ValueGetter<VBuffer<float>> _getFeatures;
        private readonly ValueGetter<float>? _getWeight;
        private float[]? _rows;
        private float[]? _weights;
        private VBuffer<float> _row;
        private long _served;
        private long _read;
        private long _skipped;
        private bool _exhausted;
        private bool _finished;

        public Reader(CursorBatchSource source)
        {
            _source = source;
            var columns = source._weights is { } w ? new[] { source._features, w } : new[] { source._features };
            _cursor = source._data.GetRowCursor(columns);
            try
            {
                _getFeatures = _cursor.GetGetter<VBuffer<float>>(source._features);
                _getWeight = source._weights is { } weights ? _cursor.GetGetter<float>(weights) : null;
                _rows = source.RentRows();
                _weights = source.HasWeights ? source.RentWeights() : null;
            }
            catch
            {
                _cursor.Dispose();
                throw;
            }
        }

        public bool TryRead(out DataBatch batch)
        {
            batch = default;
            if (_exhausted)
                return false;
            var rows = _rows ?? throw new ObjectDisposedException(nameof(CursorBatchSource));
            int d = _source.Dimension;
            int count = 0;
            while (count < _source._batchRows && Advance())
            {
                var target = rows.AsSpan(count * d, d);
                float weight = 1;
                try
                {
                    _getFeatures(ref _row);
                    _getWeight?.Invoke(ref weight);
                }
                catch (Exception e)
                {
                    throw Wrap(e);
                }
                if (_row.Length != d)
                    throw new InvalidOperationException(
                        $"Row {_read} of the feature column '{_source._features.Name}' has {_row.Length} values but the column type {_source._features.Type} promises {d}.");
                _row.CopyTo(target);
                bool badFeatures = !DataValidator.AllFinite(target);
                bool badWeight = !(weight >= 0) || float.IsInfinity(weight);
                if (badFeatures || badWeight)
                {
                    if (_source.RejectMissing)
                        throw new InvalidOperationException(badFeatures
                            ? $"Row {_read} of the feature column '{_source._features.Name}' has a NaN or infinite value. " +
                              $"Remove or impute such rows, or leave {nameof(GpuKMeansTrainer.Options.TreatMissingFeaturesAsError)} off to skip them."
                            : $"Row {_read} of the weight column '{_source._weights!.Value.Name}' has weight {weight}; weights must be finite and non-negative.");
                    _skipped++;
                }
                else
                {
                    if (_weights is not null)
                        _weights[count] = weight;
                    count++;
                }
                _read++;
            }
            if (count > 0)
                batch = new DataBatch(_served, rows.AsMemory(0, count * d), d, _weights is null ? default : _weights.AsMemory(0, count));
            _served += count;
            if (_exhausted)
                Finish();
            return count > 0;
        }

        private bool Advance()
        {
            try
            {
                if (_cursor.MoveNext())
                    return true;
            }
            catch (Exception e)
            {
                throw Wrap(e);
            }
            _exhausted = true;
            return false;
        }

        private void Finish()
        {
            if (_finished)
                return;
            _finished = true;
            // A complete pass knows how many rows survive; later passes (and the engine's checks) can rely on it.
            _source.RowCount = _served;
            _source.SkippedRows = _skipped;
        }

        private InvalidOperationException Wrap(Exception e)
            => new($"Reading row {_read} of the training data (column '{_source._features.Name}') failed: {e.Message}", e);

        public void Dispose()
        {
            _cursor.Dispose();
            if (_rows is not null)
                _source._spareRows = _rows;
            if (_weights is not null)
                _source._spareWeights = _weights;
            _rows = null;
            _weights = null;
        }
    }
}
