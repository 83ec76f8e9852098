using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// The lazy result of <see cref="GpuKMeansTransformer.Transform"/>: the input's columns plus Score and
/// PredictedLabel, scored a block of rows at a time by the engine.
/// </summary>
/// <remarks>
/// Bulk scoring needs the features of many rows before the first of them is served, yet pass-through
/// columns must come from the row being served. So each cursor runs two input cursors over the same rows:
/// a look-ahead one that reads only the feature column and scores a block, and the main one that serves
/// the row. Their row ids are compared so that an input whose cursors disagree on order is an error, not a
/// silent misalignment. Shuffled cursors are not offered (<see cref="CanShuffle"/> is false) for that reason.
/// </remarks>
internal sealed class ScoredDataView : IDataView
{
    private readonly IDataView _input;
    private readonly IBlockScorer _scorer;
    private readonly DataViewSchema.Column _features;
    private readonly int _blockRows;

    public ScoredDataView(IDataView input, DataViewSchema.Column features, IBlockScorer scorer, int blockRows)
    {
        _input = input;
        _features = features;
        _scorer = scorer;
        _blockRows = scorer.RowsPerBlock(blockRows);
        Schema = scorer.AppendColumns(input.Schema);
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _input.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
    {
        ArgumentNullException.ThrowIfNull(columnsNeeded);
        int inputCount = _input.Schema.Count;
        var needed = columnsNeeded.ToList();
        bool scores = needed.Any(c => c.Index >= inputCount);
        var inputColumns = needed.Where(c => c.Index < inputCount).Select(c => _input.Schema[c.Index]).ToList();
        var main = _input.GetRowCursor(inputColumns);
        DataViewRowCursor? lookAhead = null;
        try
        {
            lookAhead = scores ? _input.GetRowCursor(new[] { _features }) : null;
            return new Cursor(this, main, lookAhead, needed.Select(c => c.Index).ToHashSet());
        }
        catch
        {
            lookAhead?.Dispose();
            main.Dispose();
            throw;
        }
    }

    // One cursor: scoring is already parallel inside the engine, and a set would need aligned look-aheads.
    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly ScoredDataView _view;
        private readonly DataViewRowCursor _main;
        private readonly DataViewRowCursor? _lookAhead;
        private readonly HashSet<int> _active;
        private readonly int _inputCount;
        private readonly int _k;
        private readonly int _d;

        // The current block: rows [_blockStart, _blockStart + _blockCount) of this cursor.
        private float[]? _features;
        private float[]? _scores;
        private uint[]? _labels;
        private DataViewRowId[]? _ids;
        private long _blockStart;
        private int _blockCount;
        private long _row = -1;
        private int _nextBlockRows;
        private ValueGetter<VBuffer<float>>? _lookAheadFeatures;
        private ValueGetter<DataViewRowId>? _lookAheadId;
        private ValueGetter<DataViewRowId>? _mainId;
        private VBuffer<float> _buffer;
        private bool _disposed;

        public Cursor(ScoredDataView view, DataViewRowCursor main, DataViewRowCursor? lookAhead, HashSet<int> active)
        {
            _view = view;
            _main = main;
            _lookAhead = lookAhead;
            _active = active;
            _inputCount = view._input.Schema.Count;
            _k = view._scorer.NumberOfScores;
            _d = view._scorer.Dimension;
            _nextBlockRows = Math.Min(64, view._blockRows);
        }

        public override long Position => _main.Position;

        public override long Batch => _main.Batch;

        public override DataViewSchema Schema => _view.Schema;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _main.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column)
            => column.Index < _inputCount ? _main.IsColumnActive(_view._input.Schema[column.Index]) : _active.Contains(column.Index);

        public override bool MoveNext()
        {
            if (_disposed)
                return false;
            if (!_main.MoveNext())
                return false;
            _row++;
            return true;
        }

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _inputCount)
                return _main.GetGetter<TValue>(_view._input.Schema[column.Index]);
            if (!_active.Contains(column.Index) || _lookAhead is null)
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when this cursor was opened.");
            if (column.Name == ClusteringColumns.Score && typeof(TValue) == typeof(VBuffer<float>))
            {
                ValueGetter<VBuffer<float>> score = (ref VBuffer<float> value) =>
                {
                    int at = Locate();
                    var editor = VBufferEditor.Create(ref value, _k);
                    _scores.AsSpan(at * _k, _k).CopyTo(editor.Values);
                    value = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)score;
            }
            if (column.Name == ClusteringColumns.Score && typeof(TValue) == typeof(float))
            {
                // A scalar score (regression): the scorer's single value per row.
                ValueGetter<float> scalar = (ref float value) =>
                {
                    int at = Locate(); // fills the block (and _scores) before it is read
                    value = _scores![at * _k];
                };
                return (ValueGetter<TValue>)(Delegate)scalar;
            }
            if (column.Name == ClusteringColumns.PredictedLabel && typeof(TValue) == typeof(VBuffer<bool>))
            {
                // Tags (multi-label): from the row's scores by the model's threshold rule.
                ValueGetter<VBuffer<bool>> tags = (ref VBuffer<bool> value) =>
                {
                    int at = Locate();
                    var editor = VBufferEditor.Create(ref value, _k);
                    _view._scorer.Tags(_scores.AsSpan(at * _k, _k), editor.Values);
                    value = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)tags;
            }
            if (column.Name == ClusteringColumns.PredictedLabel && typeof(TValue) == typeof(uint))
            {
                ValueGetter<uint> label = (ref uint value) =>
                {
                    int at = Locate(); // fills the block (and _labels) before it is read
                    value = _labels![at];
                };
                return (ValueGetter<TValue>)(Delegate)label;
            }
            throw new InvalidOperationException(
                $"Column '{column.Name}' has type {column.Type}, whose values are {column.Type.RawType.Name}, not {typeof(TValue).Name}.");
        }

        /// <summary>Scores blocks until the current row is in one; returns its index in the block.</summary>
        private int Locate()
        {
            if (_row < 0)
                throw new InvalidOperationException("The cursor is not on a row; call MoveNext first.");
            while (_row >= _blockStart + _blockCount)
            {
                _blockStart += _blockCount;
                if (!FillBlock())
                    throw new InvalidOperationException(
                        $"The input data view produced fewer rows for its feature column '{_view._features.Name}' than for its other columns; " +
                        "FlashKMeans scores with two cursors over the same rows and needs them to agree.");
            }
            int at = (int)(_row - _blockStart);
            _mainId ??= _main.GetIdGetter();
            DataViewRowId id = default;
            _mainId(ref id);
            if (!id.Equals(_ids![at]))
                throw new InvalidOperationException(
                    $"The input data view returned rows in a different order to two cursors (row {_row}); FlashKMeans scores in blocks and needs a deterministic row order.");
            return at;
        }

        private bool FillBlock()
        {
            var lookAhead = _lookAhead!;
            // Blocks start small and double up to the configured size, so that reading a few rows (a preview,
            // a quick look) does not score thousands, while long scans still run at full block size.
            int rows = _nextBlockRows;
            _nextBlockRows = Math.Min(_view._blockRows, rows * 2);
            if (_labels is null || _labels.Length < rows)
            {
                _features = new float[rows * _d];
                _scores = new float[rows * _k];
                _labels = new uint[rows];
                _ids = new DataViewRowId[rows];
            }
            _lookAheadFeatures ??= lookAhead.GetGetter<VBuffer<float>>(_view._features);
            _lookAheadId ??= lookAhead.GetIdGetter();
            int count = 0;
            while (count < rows && lookAhead.MoveNext())
            {
                _lookAheadFeatures(ref _buffer);
                if (_buffer.Length != _d)
                    throw new InvalidOperationException(
                        $"A row of the feature column '{_view._features.Name}' has {_buffer.Length} values but the column type {_view._features.Type} promises {_d}.");
                _buffer.CopyTo(_features!.AsSpan(count * _d, _d));
                _lookAheadId(ref _ids![count]);
                count++;
            }
            _blockCount = count;
            if (count == 0)
                return false;
            _view._scorer.Score(_features, count, _scores!, _labels);
            return true;
        }

        protected override void Dispose(bool disposing)
        {
            if (_disposed)
                return;
            _disposed = true;
            if (disposing)
            {
                _lookAhead?.Dispose();
                _main.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
