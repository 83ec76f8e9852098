// Offline contract: mirrors the public shape of Microsoft.ML.Core 5.0.0 (IEstimator.cs, ICanSaveModel,
// ModelSaveContext, IRowToRowMapper, prediction transformer interfaces).
using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Data;

namespace Microsoft.ML
{
    public interface ICanSaveModel
    {
        void Save(ModelSaveContext ctx);
    }

    /// <summary>Has no public members in ML.NET, which is why third-party transformers cannot write their own bytes.</summary>
    public sealed class ModelSaveContext : IDisposable
    {
        internal ModelSaveContext() { }
        public void Dispose() { }
    }

    public interface ITransformer : ICanSaveModel
    {
        DataViewSchema GetOutputSchema(DataViewSchema inputSchema);
        IDataView Transform(IDataView input);
        bool IsRowToRowMapper { get; }
        IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema);
    }

    public interface IEstimator<out TTransformer>
        where TTransformer : ITransformer
    {
        TTransformer Fit(IDataView input);
        SchemaShape GetOutputSchema(SchemaShape inputSchema);
    }

    public interface IRowToRowMapper
    {
        DataViewSchema InputSchema { get; }
        DataViewSchema OutputSchema { get; }
        IEnumerable<DataViewSchema.Column> GetDependencies(IEnumerable<DataViewSchema.Column> dependingColumns);
        DataViewRow GetRow(DataViewRow input, IEnumerable<DataViewSchema.Column> activeColumns);
    }

    public interface IPredictionTransformer<out TModel> : ITransformer
        where TModel : class
    {
        TModel Model { get; }
    }

    public interface ISingleFeaturePredictionTransformer<out TModel> : IPredictionTransformer<TModel>
        where TModel : class
    {
        string FeatureColumnName { get; }
        DataViewType FeatureColumnType { get; }
    }

    public sealed class SchemaShape : IReadOnlyList<SchemaShape.Column>
    {
        private readonly Column[] _columns;
        private static readonly SchemaShape _empty = new SchemaShape(Enumerable.Empty<Column>());

        public SchemaShape(IEnumerable<Column> columns)
        {
            if (columns == null) throw new ArgumentNullException(nameof(columns));
            _columns = columns.ToArray();
            if (_columns.Any(c => c.Name == null))
                throw new ArgumentException("Some items are not initialized properly.", nameof(columns));
        }

        public int Count => _columns.Length;
        public Column this[int index] => _columns[index];
        public IEnumerator<Column> GetEnumerator() => ((IEnumerable<Column>)_columns).GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        // Internal in ML.NET, as here: third parties reach it through reflection or not at all.
        internal static SchemaShape Create(DataViewSchema schema)
        {
            var cols = new List<Column>();
            foreach (var column in schema)
            {
                if (column.IsHidden)
                    continue;
                var annotations = new List<Column>();
                foreach (var a in column.Annotations.Schema)
                {
                    Shape(a.Type, out var ak, out var ai, out var aKey);
                    annotations.Add(new Column(a.Name, ak, ai, aKey));
                }
                Shape(column.Type, out var kind, out var item, out var isKey);
                cols.Add(new Column(column.Name, kind, item, isKey, annotations.Count > 0 ? new SchemaShape(annotations) : _empty));
            }
            return new SchemaShape(cols);
        }

        private static void Shape(DataViewType type, out Column.VectorKind kind, out DataViewType item, out bool isKey)
        {
            if (type is VectorDataViewType v)
            {
                kind = v.IsKnownSize ? Column.VectorKind.Vector : Column.VectorKind.VariableVector;
                item = v.ItemType;
            }
            else
            {
                kind = Column.VectorKind.Scalar;
                item = type;
            }
            isKey = item is KeyDataViewType;
            if (isKey)
                item = item.RawType == typeof(uint) ? NumberDataViewType.UInt32 : item.RawType == typeof(ulong) ? NumberDataViewType.UInt64
                    : item.RawType == typeof(ushort) ? NumberDataViewType.UInt16 : NumberDataViewType.Byte;
        }

        public readonly struct Column
        {
            public enum VectorKind
            {
                Scalar,
                Vector,
                VariableVector,
            }

            public readonly string Name;
            public readonly VectorKind Kind;
            public readonly DataViewType ItemType;
            public readonly bool IsKey;
            public readonly SchemaShape Annotations;

            internal Column(string name, VectorKind vecKind, DataViewType itemType, bool isKey, SchemaShape annotations = null)
            {
                if (string.IsNullOrEmpty(name)) throw new ArgumentNullException(nameof(name));
                if (itemType is KeyDataViewType) throw new ArgumentException("Item type cannot be a key", nameof(itemType));
                if (itemType is VectorDataViewType) throw new ArgumentException("Item type cannot be a vector", nameof(itemType));
                Name = name;
                Kind = vecKind;
                ItemType = itemType;
                IsKey = isKey;
                Annotations = annotations ?? _empty;
            }

            public override string ToString() => $"{Name}: {Kind} {(IsKey ? "Key<" + ItemType + ">" : ItemType?.ToString())}";
        }
    }
}
