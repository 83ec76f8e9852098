using Microsoft.ML;
using Microsoft.ML.Data;

namespace FlashKMeans.MLNet;

/// <summary>
/// Single-row scoring for <see cref="GpuKMeansTransformer.GetRowToRowMapper"/>, which ML.NET's
/// <c>PredictionEngine</c> and composite row mappers use. Each row is scored by the same engine call as a
/// block in <see cref="ScoredDataView"/>, with a block of one, so both paths give identical values.
/// </summary>
internal sealed class ScoringRowMapper : IRowToRowMapper
{
    private readonly IBlockScorer _scorer;
    private readonly DataViewSchema.Column _features;

    public ScoringRowMapper(DataViewSchema inputSchema, DataViewSchema.Column features, IBlockScorer scorer)
    {
        InputSchema = inputSchema;
        _features = features;
        _scorer = scorer;
        OutputSchema = scorer.AppendColumns(inputSchema);
    }

    public DataViewSchema InputSchema { get; }

    public DataViewSchema OutputSchema { get; }

    public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
    {
        ArgumentNullException.ThrowIfNull(dependingColumns);
        var needed = new SortedDictionary<int, DataViewSchema.Column>();
        foreach (var column in dependingColumns)
        {
            if (column.Index < InputSchema.Count)
                needed[column.Index] = InputSchema[column.Index];
            else
                needed[_features.Index] = _features;
        }
        return needed.Values;
    }

    public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(activeColumns);
        return new Row(this, input, activeColumns.Select(c => c.Index).ToHashSet());
    }

    private sealed class Row : DataViewRow
    {
        private readonly ScoringRowMapper _mapper;
        private readonly DataViewRow _input;
        private readonly HashSet<int> _active;
        private readonly float[] _features;
        private readonly float[] _cachedFeatures;
        private readonly float[] _scores;
        private readonly uint[] _label = new uint[1];
        private ValueGetter<VBuffer<float>>? _getFeatures;
        private VBuffer<float> _buffer;
        private bool _cached;

        public Row(ScoringRowMapper mapper, DataViewRow input, HashSet<int> active)
        {
            _mapper = mapper;
            _input = input;
            _active = active;
            _features = new float[mapper._scorer.Dimension];
            _cachedFeatures = new float[mapper._scorer.Dimension];
            _scores = new float[mapper._scorer.NumberOfScores];
        }

        public override long Position => _input.Position;

        public override long Batch => _input.Batch;

        public override DataViewSchema Schema => _mapper.OutputSchema;

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column)
            => column.Index < _mapper.InputSchema.Count ? _input.IsColumnActive(_mapper.InputSchema[column.Index]) : _active.Contains(column.Index);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index < _mapper.InputSchema.Count)
                return _input.GetGetter<TValue>(_mapper.InputSchema[column.Index]);
            if (!_active.Contains(column.Index))
                throw new InvalidOperationException($"Column '{column.Name}' is not active in this row.");
            if (column.Name == ClusteringColumns.Score && typeof(TValue) == typeof(VBuffer<float>))
            {
                ValueGetter<VBuffer<float>> score = (ref VBuffer<float> value) =>
                {
                    Compute();
                    var editor = VBufferEditor.Create(ref value, _scores.Length);
                    _scores.AsSpan().CopyTo(editor.Values);
                    value = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)score;
            }
            if (column.Name == ClusteringColumns.Score && typeof(TValue) == typeof(float))
            {
                // A scalar score (regression): the scorer's single value.
                ValueGetter<float> scalar = (ref float value) =>
                {
                    Compute();
                    value = _scores[0];
                };
                return (ValueGetter<TValue>)(Delegate)scalar;
            }
            if (column.Name == ClusteringColumns.PredictedLabel && typeof(TValue) == typeof(VBuffer<bool>))
            {
                ValueGetter<VBuffer<bool>> tags = (ref VBuffer<bool> value) =>
                {
                    Compute();
                    var editor = VBufferEditor.Create(ref value, _scores.Length);
                    _mapper._scorer.Tags(_scores, editor.Values);
                    value = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)tags;
            }
            if (column.Name == ClusteringColumns.PredictedLabel && typeof(TValue) == typeof(uint))
            {
                ValueGetter<uint> label = (ref uint value) =>
                {
                    Compute();
                    value = _label[0];
                };
                return (ValueGetter<TValue>)(Delegate)label;
            }
            throw new InvalidOperationException(
                $"Column '{column.Name}' has type {column.Type}, whose values are {column.Type.RawType.Name}, not {typeof(TValue).Name}.");
        }

        /// <summary>
        /// Scores the input's current features. ML.NET rows promise values recomputed from the current input, but
        /// Score and PredictedLabel come from one computation, so the last result is reused while the features are
        /// bit-for-bit the same (a cheap O(d) check against an O(Kd) score).
        /// </summary>
        private void Compute()
        {
            _getFeatures ??= _input.GetGetter<VBuffer<float>>(_mapper._features);
            _getFeatures(ref _buffer);
            int d = _features.Length;
            if (_buffer.Length != d)
                throw new InvalidOperationException(
                    $"The feature column '{_mapper._features.Name}' holds {_buffer.Length} values in this row but the model needs {d}.");
            _buffer.CopyTo(_features);
            if (_cached && _features.AsSpan().SequenceEqual(_cachedFeatures))
                return;
            _features.CopyTo(_cachedFeatures, 0);
            // Score works in place on its input (missing rows are zeroed), so it gets a scratch copy.
            _mapper._scorer.Score(_features, 1, _scores, _label);
            _cached = true;
        }

        protected override void Dispose(bool disposing)
        {
            // ML.NET's contract: the returned row disposes its input.
            if (disposing)
                _input.Dispose();
            base.Dispose(disposing);
        }
    }
}
