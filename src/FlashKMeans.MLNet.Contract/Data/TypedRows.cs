// Offline contract: a small stand-in for ML.NET's class-to-IDataView mapping (DataOperationsCatalog
// LoadFromEnumerable / CreateEnumerable, PredictionEngine). Handles public fields and properties of type
// float, uint, bool, string and float[] (with [VectorType(n)] for a known size), which is what the tests and
// the sample use. The real package does much more; behaviour for these types matches it.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.ML.Data;

namespace Microsoft.ML.Data
{
    [AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
    public sealed class VectorTypeAttribute : Attribute
    {
        public VectorTypeAttribute() { Dimensions = Array.Empty<int>(); }
        public VectorTypeAttribute(int size) { Dimensions = new[] { size }; }
        public VectorTypeAttribute(params int[] dimensions) { Dimensions = dimensions ?? Array.Empty<int>(); }
        public int[] Dimensions { get; }
    }

    [AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
    public sealed class ColumnNameAttribute : Attribute
    {
        public ColumnNameAttribute(string name) { Name = name; }
        public string Name { get; }
    }

    [AttributeUsage(AttributeTargets.Field | AttributeTargets.Property)]
    public sealed class KeyTypeAttribute : Attribute
    {
        public KeyTypeAttribute(ulong count) { Count = count; }
        public ulong Count { get; }
    }
}

namespace Microsoft.ML
{
    public sealed class DataOperationsCatalog
    {
        private readonly MLContext _context;

        internal DataOperationsCatalog(MLContext context)
        {
            _context = context;
        }

        public IDataView LoadFromEnumerable<TRow>(IEnumerable<TRow> data, SchemaDefinition schemaDefinition = null)
            where TRow : class
            => new EnumerableDataView<TRow>(data ?? throw new ArgumentNullException(nameof(data)));

        public IEnumerable<TRow> CreateEnumerable<TRow>(IDataView data, bool reuseRowObject, bool ignoreMissingColumns = false,
            SchemaDefinition schemaDefinition = null)
            where TRow : class, new()
        {
            if (data == null) throw new ArgumentNullException(nameof(data));
            var members = TypedMember.Of(typeof(TRow));
            var columns = members.Select(m => data.Schema.GetColumnOrNull(m.ColumnName)).ToArray();
            if (!ignoreMissingColumns)
            {
                for (int i = 0; i < members.Length; i++)
                    if (columns[i] == null)
                        throw new ArgumentOutOfRangeException(nameof(data), $"Column '{members[i].ColumnName}' not found");
            }
            using var cursor = data.GetRowCursor(columns.Where(c => c.HasValue).Select(c => c.Value));
            var readers = members.Select((m, i) => columns[i].HasValue ? m.Reader(cursor, columns[i].Value) : null).ToArray();
            while (cursor.MoveNext())
            {
                var row = new TRow();
                foreach (var read in readers)
                    read?.Invoke(row);
                yield return row;
            }
        }
    }

    public sealed class PredictionEngine<TSrc, TDst> : IDisposable
        where TSrc : class
        where TDst : class, new()
    {
        private readonly MLContext _context;
        private readonly ITransformer _transformer;

        internal PredictionEngine(MLContext context, ITransformer transformer)
        {
            _context = context;
            _transformer = transformer ?? throw new ArgumentNullException(nameof(transformer));
            if (!transformer.IsRowToRowMapper)
                throw new InvalidOperationException("The transformer must be a row-to-row mapper.");
        }

        public TDst Predict(TSrc example)
        {
            // One input row, mapped through the transformer's row-to-row mapper as ML.NET does.
            var input = new EnumerableDataView<TSrc>(new[] { example });
            var mapper = _transformer.GetRowToRowMapper(input.Schema);
            using var cursor = input.GetRowCursor(input.Schema);
            cursor.MoveNext();
            using var row = mapper.GetRow(cursor, mapper.OutputSchema);
            var result = new TDst();
            foreach (var member in TypedMember.Of(typeof(TDst)))
            {
                var column = row.Schema.GetColumnOrNull(member.ColumnName);
                if (column.HasValue)
                    member.Reader(row, column.Value)(result);
            }
            return result;
        }

        public void Dispose() { }
    }

    internal sealed class TypedMember
    {
        private readonly MemberInfo _member;

        private TypedMember(MemberInfo member)
        {
            _member = member;
            ColumnName = member.GetCustomAttribute<ColumnNameAttribute>()?.Name ?? member.Name;
            ClrType = member is FieldInfo f ? f.FieldType : ((PropertyInfo)member).PropertyType;
            var vector = member.GetCustomAttribute<VectorTypeAttribute>();
            var key = member.GetCustomAttribute<KeyTypeAttribute>();
            if (ClrType == typeof(float[]))
                ColumnType = new VectorDataViewType(NumberDataViewType.Single, vector?.Dimensions ?? Array.Empty<int>());
            else if (ClrType == typeof(float))
                ColumnType = NumberDataViewType.Single;
            else if (ClrType == typeof(uint))
                ColumnType = key != null ? new KeyDataViewType(typeof(uint), key.Count) : NumberDataViewType.UInt32;
            else if (ClrType == typeof(bool))
                ColumnType = BooleanDataViewType.Instance;
            else if (ClrType == typeof(string))
                ColumnType = TextDataViewType.Instance;
            else
                throw new NotSupportedException($"The offline contract does not map members of type {ClrType} ({member.Name}).");
        }

        public string ColumnName { get; }
        public Type ClrType { get; }
        public DataViewType ColumnType { get; }

        public static TypedMember[] Of(Type type)
            => type.GetFields(BindingFlags.Public | BindingFlags.Instance).Cast<MemberInfo>()
                .Concat(type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.CanWrite))
                .Select(m => new TypedMember(m)).ToArray();

        public object Get(object row) => _member is FieldInfo f ? f.GetValue(row) : ((PropertyInfo)_member).GetValue(row);

        public void Set(object row, object value)
        {
            if (_member is FieldInfo f)
                f.SetValue(row, value);
            else
                ((PropertyInfo)_member).SetValue(row, value);
        }

        /// <summary>A delegate that copies the row's current value of <paramref name="column"/> into an object.</summary>
        public Action<object> Reader(DataViewRow row, DataViewSchema.Column column)
        {
            if (ClrType == typeof(float[]))
            {
                var getter = row.GetGetter<VBuffer<float>>(column);
                return target =>
                {
                    VBuffer<float> value = default;
                    getter(ref value);
                    var dense = new float[value.Length];
                    value.CopyTo(dense);
                    Set(target, dense);
                };
            }
            if (ClrType == typeof(float))
                return Scalar<float>(row, column);
            if (ClrType == typeof(uint))
                return Scalar<uint>(row, column);
            if (ClrType == typeof(bool))
                return Scalar<bool>(row, column);
            var text = row.GetGetter<ReadOnlyMemory<char>>(column);
            return target =>
            {
                ReadOnlyMemory<char> value = default;
                text(ref value);
                Set(target, value.ToString());
            };
        }

        private Action<object> Scalar<T>(DataViewRow row, DataViewSchema.Column column)
        {
            var getter = row.GetGetter<T>(column);
            return target =>
            {
                T value = default;
                getter(ref value);
                Set(target, value);
            };
        }
    }

    /// <summary>An in-memory IDataView over a list of objects, as LoadFromEnumerable gives.</summary>
    internal sealed class EnumerableDataView<TRow> : IDataView
    {
        private readonly IReadOnlyList<TRow> _rows;
        private readonly TypedMember[] _members;

        public EnumerableDataView(IEnumerable<TRow> rows)
        {
            _rows = rows.ToList();
            _members = TypedMember.Of(typeof(TRow));
            var builder = new DataViewSchema.Builder();
            foreach (var m in _members)
                builder.AddColumn(m.ColumnName, m.ColumnType);
            Schema = builder.ToSchema();
        }

        public bool CanShuffle => false;
        public DataViewSchema Schema { get; }
        public long? GetRowCount() => _rows.Count;

        public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random rand = null)
            => new Cursor(this, new HashSet<int>(columnsNeeded.Select(c => c.Index)));

        public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random rand = null)
            => new[] { GetRowCursor(columnsNeeded, rand) };

        private sealed class Cursor : DataViewRowCursor
        {
            private readonly EnumerableDataView<TRow> _view;
            private readonly HashSet<int> _active;
            private long _position = -1;

            public Cursor(EnumerableDataView<TRow> view, HashSet<int> active)
            {
                _view = view;
                _active = active;
            }

            public override long Position => _position;
            public override long Batch => 0;
            public override DataViewSchema Schema => _view.Schema;

            public override bool MoveNext()
            {
                if (_position + 1 < _view._rows.Count)
                {
                    _position++;
                    return true;
                }
                _position = -1;
                return false;
            }

            public override ValueGetter<DataViewRowId> GetIdGetter()
                => (ref DataViewRowId id) => id = new DataViewRowId((ulong)_position, 0);

            public override bool IsColumnActive(DataViewSchema.Column column) => _active.Contains(column.Index);

            public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
            {
                if (!IsColumnActive(column))
                    throw new InvalidOperationException($"Column '{column.Name}' is not active.");
                var member = _view._members[column.Index];
                if (typeof(TValue) != column.Type.RawType)
                    throw new InvalidOperationException($"Invalid TValue in GetGetter: '{typeof(TValue)}', expected type: '{column.Type.RawType}'.");
                Delegate getter;
                if (member.ClrType == typeof(float[]))
                {
                    var size = ((VectorDataViewType)column.Type).Size;
                    getter = (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
                    {
                        var src = (float[])member.Get(_view._rows[(int)_position]) ?? Array.Empty<float>();
                        if (size > 0 && src.Length != size)
                            throw new InvalidOperationException($"Column '{column.Name}' declares {size} values but a row has {src.Length}.");
                        var editor = VBufferEditor.Create(ref dst, src.Length);
                        src.CopyTo(editor.Values);
                        dst = editor.Commit();
                    });
                }
                else if (member.ClrType == typeof(string))
                {
                    getter = (ValueGetter<ReadOnlyMemory<char>>)((ref ReadOnlyMemory<char> dst)
                        => dst = ((string)member.Get(_view._rows[(int)_position]) ?? "").AsMemory());
                }
                else
                {
                    getter = (ValueGetter<TValue>)((ref TValue dst) => dst = (TValue)member.Get(_view._rows[(int)_position]));
                }
                return (ValueGetter<TValue>)getter;
            }
        }
    }
}
