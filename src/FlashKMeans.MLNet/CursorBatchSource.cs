using FlashKMeans.Data;
using FlashKMeans.Primitives;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// Serves an <see cref="IDataView"/> to the engine as a multi-pass <see cref="IBatchSource"/>: every pass is
/// one fresh cursor over the feature (and weight) column, copied row by row into pinned batch buffers of
/// <c>batchRows × d</c> floats. The whole data set never sits in managed arrays; two batches do.
/// </summary>
/// <remarks>
/// <para>Two buffers per pass let the cursor fill the next batch on a worker thread while the engine works on
/// the current one (the engine may use a batch only until its next read), so cursor time hides behind GPU or
/// CPU time instead of adding to it. The cursor is still used by one thread at a time.</para>
/// <para>Rows whose features are not all finite, or whose weight is NaN, infinite or negative, are "missing",
/// as ML.NET's KMeans calls them: they are skipped and counted, or rejected with an error naming the row when
/// <see cref="RejectMissing"/> is set. Skipping is the same on every pass, so passes stay identical.</para>
/// </remarks>
internal sealed class CursorBatchSource : IRepeatingBatchSource, IDisposable
{
    private readonly IDataView _data;
    private readonly DataViewSchema.Column _features;
    private readonly DataViewSchema.Column? _weights;
    private readonly int _batchRows;
    private Buffer? _spareA;
    private Buffer? _spareB;
    private int _passes;
    private NativeRowCache? _cache;
    private readonly float _maximumSquaredNorm;
    private readonly bool _keepMissing;

    /// <param name="data">The training data.</param>
    /// <param name="features">Its feature column (a known-size vector of Single).</param>
    /// <param name="weights">Its weight column, if any.</param>
    /// <param name="batchRows">Rows per batch.</param>
    /// <param name="rejectMissing">Throw on a missing row instead of skipping it.</param>
    /// <param name="cacheBudgetBytes">When positive, the first complete pass also copies the usable rows into native
    /// memory, up to this many bytes, and later passes read that copy instead of the cursor; an input that does not
    /// fit streams on every pass.</param>
    /// <param name="maximumSquaredNorm">A usable row longer than this is an error naming its row in the input (the
    /// engine would name it by its index among the usable rows only); <see cref="float.PositiveInfinity"/> for no limit.</param>
    /// <param name="keepMissing">Serve rows whose NaN features are missing values (<see cref="MissingFeatures.Ignore"/>): only
    /// rows with an infinite value, no feature at all, or a bad weight are skipped (or rejected).</param>
    public CursorBatchSource(IDataView data, DataViewSchema.Column features, DataViewSchema.Column? weights, int batchRows, bool rejectMissing,
        long cacheBudgetBytes = 0, float maximumSquaredNorm = float.PositiveInfinity, bool keepMissing = false)
    {
        _keepMissing = keepMissing;
        _maximumSquaredNorm = maximumSquaredNorm;
        _data = data;
        _features = features;
        _weights = weights;
        _batchRows = batchRows;
        RejectMissing = rejectMissing;
        Dimension = ((VectorDataViewType)features.Type).Size;
        if (cacheBudgetBytes > 0)
            _cache = new NativeRowCache(cacheBudgetBytes, Dimension, weights.HasValue);
    }

    /// <inheritdoc />
    public int Dimension { get; }

    /// <summary>Whether every non-finite value is NaN (a missing feature) and at least one feature is present.</summary>
    private static bool OnlyMissing(ReadOnlySpan<float> row)
    {
        int present = 0;
        foreach (float v in row)
        {
            if (float.IsInfinity(v))
                return false;
            present += float.IsNaN(v) ? 0 : 1;
        }
        return present > 0;
    }

    /// <summary>Rows served per pass: unknown until a pass has counted the missing rows.</summary>
    public long? RowCount { get; private set; }

    /// <inheritdoc />
    public bool HasWeights => _weights.HasValue;

    /// <summary>Whether a missing row is an error rather than skipped.</summary>
    public bool RejectMissing { get; }

    /// <summary>Rows skipped in a complete pass because of missing features or bad weights; <c>null</c> before one.</summary>
    public long? SkippedRows { get; private set; }

    /// <summary>Cursor passes opened so far: one per engine pass, or just the first when the rows were cached.</summary>
    public int Passes => _passes;

    /// <summary>Whether later passes read the native cache rather than the cursor.</summary>
    public bool Cached => _cache is { IsComplete: true };

    /// <summary>Once the cache is complete every pass reads it: rows this source validated and nobody else writes.</summary>
    public bool PassesRepeat => Cached;

    /// <inheritdoc />
    public IBatchReader OpenReader()
    {
        if (_cache is { IsComplete: true } cache)
            return cache.OpenReader();
        Interlocked.Increment(ref _passes);
        return new Reader(this);
    }

    /// <summary>Frees the native cache.</summary>
    public void Dispose()
    {
        _cache?.Dispose();
        _cache = null;
    }

    /// <summary>One pinned batch: row-major features and, with a weight column, weights.</summary>
    private sealed class Buffer(int rows, int dimension, bool weights)
    {
        public readonly float[] Rows = Faulted(GC.AllocateUninitializedArray<float>(checked(rows * dimension), pinned: true));
        public readonly float[]? Weights = weights ? GC.AllocateUninitializedArray<float>(rows, pinned: true) : null;

        // The cursor fills a batch from one thread, which would otherwise also take every page fault of the fresh
        // buffer: a third of the first pass's time for 16 MiB batches.
        private static float[] Faulted(float[] values)
        {
            FlashKMeans.Threading.HostCopy.ClearInParallel(values);
            return values;
        }
        public int Count;
        public long FirstRow;
    }

    // The buffers of a finished pass are kept for the next one, so that a long fit allocates (and pins) once.
    private Buffer Rent(ref Buffer? spare) => Interlocked.Exchange(ref spare, null) ?? new Buffer(_batchRows, Dimension, HasWeights);

    private sealed class Reader : IBatchReader
    {
        private readonly CursorBatchSource _source;
        private readonly DataViewRowCursor _cursor;
        private readonly ValueGetter<VBuffer<float>> _getFeatures;
        private readonly ValueGetter<float>? _getWeight;
        private Buffer? _current;
        private Buffer? _next;
        private Task? _filling;
        private Task? _caching;
        private long _cachedRows;
        private bool _cacheEnded;
        private VBuffer<float> _row;
        private long _served;
        private long _read;
        private long _skipped;
        private bool _exhausted;
        private bool _published;
        private bool _started;
        private readonly bool _fillsCache;

        public Reader(CursorBatchSource source)
        {
            _source = source;
            var columns = source._weights is { } w ? new[] { source._features, w } : new[] { source._features };
            _cursor = source._data.GetRowCursor(columns);
            try
            {
                _getFeatures = _cursor.GetGetter<VBuffer<float>>(source._features);
                _getWeight = source._weights is { } weights ? _cursor.GetGetter<float>(weights) : null;
            }
            catch
            {
                _cursor.Dispose();
                throw;
            }
            _current = source.Rent(ref source._spareA);
            _next = source.Rent(ref source._spareB);
            _fillsCache = source._cache?.TryBeginFill() == true;
        }

        public bool TryRead(out DataBatch batch)
        {
            batch = default;
            ObjectDisposedException.ThrowIf(_current is null || _next is null, this);
            if (!_started)
            {
                _started = true;
                Fill(_next);
            }
            else if (_filling is { } filling)
            {
                _filling = null;
                filling.GetAwaiter().GetResult(); // rethrows the cursor's exception as is
            }
            else
            {
                EndCacheFill();
                return false;
            }
            (_current, _next) = (_next, _current);
            var ready = _current;
            // The buffer about to be refilled may still be being copied into the cache.
            WaitForCaching();
            if (ready.Count == 0)
            {
                EndCacheFill();
                return false;
            }
            if (_fillsCache)
            {
                // The copy into the cache runs beside the engine's work on this batch and the cursor's fill of the next.
                int d = _source.Dimension;
                _caching = Task.Run(() => _source._cache!.Append(ready.Rows.AsSpan(0, ready.Count * d),
                    ready.Weights is null ? default : ready.Weights.AsSpan(0, ready.Count)));
                _cachedRows += ready.Count;
            }
            batch = new DataBatch(ready.FirstRow, ready.Rows.AsMemory(0, ready.Count * _source.Dimension), _source.Dimension,
                ready.Weights is null ? default : ready.Weights.AsMemory(0, ready.Count));
            // Fill the other buffer while the engine works on this one.
            if (!_exhausted)
            {
                var target = _next;
                _filling = Task.Run(() => Fill(target));
            }
            return true;
        }

        /// <summary>Copies up to a batch of usable rows from the cursor into <paramref name="target"/>.</summary>
        private void Fill(Buffer target)
        {
            int d = _source.Dimension;
            int count = 0;
            target.FirstRow = _served;
            while (count < _source._batchRows && Advance())
            {
                var destination = target.Rows.AsSpan(count * d, d);
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
                _row.CopyTo(destination);
                bool hasMissing = false;
                bool badFeatures = !DataValidator.AllFinite(destination)
                    && (!_source._keepMissing || (hasMissing = true) && !OnlyMissing(destination));
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
                    if (_source._maximumSquaredNorm < float.PositiveInfinity && !hasMissing
                        && !(FlashKMeans.Primitives.VectorMath.SquaredNorm(destination) <= _source._maximumSquaredNorm))
                        throw new InvalidOperationException(
                            $"Row {_read} of the feature column '{_source._features.Name}' has squared length " +
                            $"{FlashKMeans.Primitives.VectorMath.SquaredNorm(destination):G3}, more than {_source._maximumSquaredNorm:G3}: " +
                            "its squared Euclidean distances would overflow float32. Scale the features down first (for example with a normalizing transform).");
                    if (target.Weights is not null)
                        target.Weights[count] = weight;
                    count++;
                }
                _read++;
            }
            target.Count = count;
            _served += count;
            if (_exhausted && !_published)
            {
                // A complete pass knows how many rows survive; the engine's checks and later passes rely on it.
                _published = true;
                _source.RowCount = _served;
                _source.SkippedRows = _skipped;
            }
        }

        private bool Advance()
        {
            if (_exhausted)
                return false;
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

        private void WaitForCaching()
        {
            var caching = _caching;
            _caching = null;
            caching?.GetAwaiter().GetResult();
        }

        /// <summary>
        /// Completes the cache once its copies are done: complete when the pass read to the end and every row served
        /// was copied, emptied (for a later pass to try again) when the pass stopped early.
        /// </summary>
        private void EndCacheFill()
        {
            if (!_fillsCache || _cacheEnded)
                return;
            WaitForCaching();
            _cacheEnded = true;
            _source._cache!.EndFill(reachedEnd: _published && _cachedRows == _served);
        }

        private InvalidOperationException Wrap(Exception e)
            => new($"Reading row {_read} of the training data (column '{_source._features.Name}') failed: {e.Message}", e);

        public void Dispose()
        {
            if (_current is null || _next is null)
                return;
            // The worker may still be filling a buffer from the cursor: let it finish before the cursor goes.
            try
            {
                _filling?.GetAwaiter().GetResult();
            }
            catch (Exception)
            {
                // The pass is being abandoned; its read error (if any) no longer matters to anyone.
            }
            _filling = null;
            try
            {
                EndCacheFill();
            }
            catch (Exception)
            {
                // A failed copy leaves the cache incomplete; later passes read the cursor.
                if (_fillsCache)
                    _source._cache!.EndFill(reachedEnd: false);
            }
            _cursor.Dispose();
            _source._spareA = _current;
            _source._spareB = _next;
            _current = null;
            _next = null;
        }
    }
}
