// Offline contract: mirrors the public shape of ML.NET 5.0.0 TransformerChain, EstimatorChain,
// LearningPipelineExtensions and the Concatenate transform, with enough behaviour for pipelines in tests.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Transforms;

namespace Microsoft.ML.Data
{
    [Flags]
    public enum TransformerScope
    {
        None = 0,
        Training = 1 << 0,
        Testing = 1 << 1,
        Scoring = 1 << 2,
        TrainTest = Training | Testing,
        Everything = Training | Testing | Scoring,
    }

    public sealed class TransformerChain<TLastTransformer> : ITransformer, IEnumerable<ITransformer>, IDisposable
        where TLastTransformer : class, ITransformer
    {
        private readonly ITransformer[] _transformers;

        public readonly TLastTransformer LastTransformer;

        public TransformerChain(params ITransformer[] transformers)
        {
            _transformers = transformers?.ToArray() ?? Array.Empty<ITransformer>();
            LastTransformer = _transformers.LastOrDefault() as TLastTransformer;
        }

        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
            => _transformers.Aggregate(inputSchema, (s, t) => t.GetOutputSchema(s));

        public IDataView Transform(IDataView input)
            => _transformers.Aggregate(input, (d, t) => t.Transform(d));

        public bool IsRowToRowMapper => _transformers.All(t => t.IsRowToRowMapper);

        public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
        {
            var mappers = new List<IRowToRowMapper>();
            var schema = inputSchema;
            foreach (var t in _transformers)
            {
                var m = t.GetRowToRowMapper(schema);
                mappers.Add(m);
                schema = m.OutputSchema;
            }
            return new CompositeMapper(inputSchema, mappers);
        }

        public void Save(ModelSaveContext ctx) => throw Offline.NotSupported("Saving a TransformerChain");

        public IEnumerator<ITransformer> GetEnumerator() => ((IEnumerable<ITransformer>)_transformers).GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public void Dispose()
        {
            foreach (var t in _transformers)
                (t as IDisposable)?.Dispose();
        }

        private sealed class CompositeMapper : IRowToRowMapper
        {
            private readonly List<IRowToRowMapper> _mappers;

            public CompositeMapper(DataViewSchema input, List<IRowToRowMapper> mappers)
            {
                InputSchema = input;
                _mappers = mappers;
                OutputSchema = mappers.Count == 0 ? input : mappers[^1].OutputSchema;
            }

            public DataViewSchema InputSchema { get; }
            public DataViewSchema OutputSchema { get; }

            public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
            {
                var cols = dependingColumns;
                for (int i = _mappers.Count - 1; i >= 0; i--)
                    cols = _mappers[i].GetDependencies(cols).ToList();
                return cols;
            }

            public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns)
            {
                var row = input;
                foreach (var m in _mappers)
                    row = m.GetRow(row, m.OutputSchema);
                return row;
            }
        }
    }

    public sealed class EstimatorChain<TLastTransformer> : IEstimator<TransformerChain<TLastTransformer>>
        where TLastTransformer : class, ITransformer
    {
        private readonly IEstimator<ITransformer>[] _estimators;

        public EstimatorChain() : this(Array.Empty<IEstimator<ITransformer>>()) { }

        private EstimatorChain(IEstimator<ITransformer>[] estimators)
        {
            _estimators = estimators;
            LastEstimator = estimators.LastOrDefault() as IEstimator<TLastTransformer>;
        }

        public readonly IEstimator<TLastTransformer> LastEstimator;

        public TransformerChain<TLastTransformer> Fit(IDataView input)
        {
            var fitted = new List<ITransformer>();
            var data = input;
            foreach (var e in _estimators)
            {
                var t = e.Fit(data);
                fitted.Add(t);
                data = t.Transform(data);
            }
            return new TransformerChain<TLastTransformer>(fitted.ToArray());
        }

        public SchemaShape GetOutputSchema(SchemaShape inputSchema)
            => _estimators.Aggregate(inputSchema, (s, e) => e.GetOutputSchema(s));

        public EstimatorChain<TNewTrans> Append<TNewTrans>(IEstimator<TNewTrans> estimator, TransformerScope scope = TransformerScope.Everything)
            where TNewTrans : class, ITransformer
            => new EstimatorChain<TNewTrans>(_estimators.Append(estimator).ToArray());

        public EstimatorChain<TLastTransformer> AppendCacheCheckpoint(IHostEnvironment env) => this;
    }
}

namespace Microsoft.ML
{
    public static class LearningPipelineExtensions
    {
        public static EstimatorChain<TTrans> Append<TTrans>(this IEstimator<ITransformer> start, IEstimator<TTrans> estimator,
            TransformerScope scope = TransformerScope.Everything)
            where TTrans : class, ITransformer
            => start is EstimatorChain<ITransformer> chain ? chain.Append(estimator, scope)
                : new EstimatorChain<ITransformer>().Append(start, scope).Append(estimator, scope);

        public static EstimatorChain<TTrans> AppendCacheCheckpoint<TTrans>(this IEstimator<TTrans> start, IHostEnvironment env)
            where TTrans : class, ITransformer
            => new EstimatorChain<ITransformer>().Append(start);
    }

    public static class TransformExtensionsCatalog
    {
        public static ColumnConcatenatingEstimator Concatenate(this TransformsCatalog catalog, string outputColumnName, params string[] inputColumnNames)
            => new ColumnConcatenatingEstimator(outputColumnName, inputColumnNames);
    }

    public static class NormalizationCatalog
    {
        public static IEstimator<ITransformer> NormalizeMinMax(this TransformsCatalog catalog, string outputColumnName, string inputColumnName = null,
            long maximumExampleCount = 1000000000, bool fixZero = true)
            => throw Offline.NotSupported("NormalizeMinMax");
    }
}

namespace Microsoft.ML.Transforms
{
    /// <summary>Concatenates float scalars and known-size float vectors into one known-size float vector.</summary>
    public sealed class ColumnConcatenatingEstimator : IEstimator<ColumnConcatenatingTransformer>
    {
        private readonly string _output;
        private readonly string[] _inputs;

        internal ColumnConcatenatingEstimator(string output, string[] inputs)
        {
            _output = output;
            _inputs = inputs;
        }

        public ColumnConcatenatingTransformer Fit(IDataView input)
        {
            var t = new ColumnConcatenatingTransformer(_output, _inputs);
            t.GetOutputSchema(input.Schema);
            return t;
        }

        public SchemaShape GetOutputSchema(SchemaShape inputSchema)
        {
            var cols = inputSchema.Where(c => c.Name != _output).ToList();
            cols.Add(new SchemaShape.Column(_output, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false));
            return new SchemaShape(cols);
        }
    }

    public sealed class ColumnConcatenatingTransformer : ITransformer
    {
        private readonly string _output;
        private readonly string[] _inputs;

        internal ColumnConcatenatingTransformer(string output, string[] inputs)
        {
            _output = output;
            _inputs = inputs;
        }

        public bool IsRowToRowMapper => true;

        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
        {
            int size = 0;
            foreach (var name in _inputs)
            {
                var col = inputSchema.GetColumnOrNull(name) ?? throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Column '{name}' not found");
                size += col.Type switch
                {
                    NumberDataViewType n when n.RawType == typeof(float) => 1,
                    VectorDataViewType v when v.ItemType.RawType == typeof(float) && v.IsKnownSize => v.Size,
                    _ => throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Column '{name}' has type {col.Type}; the contract concatenates float columns only."),
                };
            }
            var builder = new DataViewSchema.Builder();
            builder.AddColumns(inputSchema);
            builder.AddColumn(_output, new VectorDataViewType(NumberDataViewType.Single, size));
            return builder.ToSchema();
        }

        public IDataView Transform(IDataView input) => new View(this, input);

        public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => new Mapper(this, inputSchema);

        public void Save(ModelSaveContext ctx) => throw Offline.NotSupported("Saving transforms");

        private sealed class Mapper : IRowToRowMapper
        {
            private readonly ColumnConcatenatingTransformer _parent;

            public Mapper(ColumnConcatenatingTransformer parent, DataViewSchema input)
            {
                _parent = parent;
                InputSchema = input;
                OutputSchema = parent.GetOutputSchema(input);
            }

            public DataViewSchema InputSchema { get; }
            public DataViewSchema OutputSchema { get; }

            public IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns)
                => InputSchema.Where(c => _parent._inputs.Contains(c.Name) || dependingColumns.Any(d => d.Name == c.Name && d.Index < InputSchema.Count));

            public DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns) => new Row(_parent, input, OutputSchema);
        }

        private sealed class View : IDataView
        {
            private readonly ColumnConcatenatingTransformer _parent;
            private readonly IDataView _input;

            public View(ColumnConcatenatingTransformer parent, IDataView input)
            {
                _parent = parent;
                _input = input;
                Schema = parent.GetOutputSchema(input.Schema);
            }

            public bool CanShuffle => false;
            public DataViewSchema Schema { get; }
            public long? GetRowCount() => _input.GetRowCount();

            public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random rand = null)
                => new Row(_parent, _input.GetRowCursor(_input.Schema), Schema);

            public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random rand = null)
                => new[] { GetRowCursor(columnsNeeded, rand) };
        }

        private sealed class Row : DataViewRowCursor
        {
            private readonly ColumnConcatenatingTransformer _parent;
            private readonly DataViewRow _input;
            private readonly DataViewSchema _schema;

            public Row(ColumnConcatenatingTransformer parent, DataViewRow input, DataViewSchema schema)
            {
                _parent = parent;
                _input = input;
                _schema = schema;
            }

            public override long Position => _input.Position;
            public override long Batch => _input.Batch;
            public override DataViewSchema Schema => _schema;
            public override bool MoveNext() => ((DataViewRowCursor)_input).MoveNext();
            public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();
            public override bool IsColumnActive(DataViewSchema.Column column) => true;

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                if (column.Index < _input.Schema.Count)
                    return _input.GetGetter<TValue>(_input.Schema[column.Index]);
                var parts = _parent._inputs.Select(n => _input.Schema[n]).ToArray();
                int size = ((VectorDataViewType)column.Type).Size;
                ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> dst) =>
                {
                    var editor = VBufferEditor.Create(ref dst, size);
                    int at = 0;
                    foreach (var p in parts)
                    {
                        if (p.Type is VectorDataViewType)
                        {
                            VBuffer<float> v = default;
                            _input.GetGetter<VBuffer<float>>(p)(ref v);
                            v.CopyTo(editor.Values, at);
                            at += v.Length;
                        }
                        else
                        {
                            float f = 0;
                            _input.GetGetter<float>(p)(ref f);
                            editor.Values[at++] = f;
                        }
                    }
                    dst = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)getter;
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                    _input.Dispose();
            }
        }
    }
}
