// Offline contract: mirrors the public shape of Microsoft.ML.DataView 5.0.0 IDataView.cs and DataViewSchema.cs.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using Microsoft.ML.Data;

namespace Microsoft.ML
{
    public interface IDataView
    {
        bool CanShuffle { get; }
        long? GetRowCount();
        DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random rand = null);
        DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random rand = null);
        DataViewSchema Schema { get; }
    }

    public delegate void ValueGetter<TValue>(ref TValue value);

    public abstract class DataViewRow : IDisposable
    {
        public abstract long Position { get; }
        public abstract long Batch { get; }
        public abstract ValueGetter<DataViewRowId> GetIdGetter();
        public abstract bool IsColumnActive(DataViewSchema.Column column);
        public abstract ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column);
        public abstract DataViewSchema Schema { get; }

        public void Dispose()
        {
            Dispose(true);
            GC.SuppressFinalize(this);
        }

        protected virtual void Dispose(bool disposing)
        {
        }
    }

    public abstract class DataViewRowCursor : DataViewRow
    {
        public abstract bool MoveNext();
    }

    public sealed class DataViewSchema : IReadOnlyList<DataViewSchema.Column>
    {
        private readonly Column[] _columns;
        private readonly Dictionary<string, int> _nameMap;

        private DataViewSchema(Column[] columns)
        {
            _columns = columns;
            _nameMap = new Dictionary<string, int>();
            for (int i = 0; i < columns.Length; i++)
                _nameMap[columns[i].Name] = i;
        }

        public int Count => _columns.Length;

        public Column this[string name]
        {
            get
            {
                if (string.IsNullOrEmpty(name)) throw new ArgumentNullException(nameof(name));
                if (!_nameMap.TryGetValue(name, out int col))
                    throw new ArgumentOutOfRangeException(nameof(name), $"Column '{name}' not found");
                return _columns[col];
            }
        }

        public Column this[int columnIndex]
        {
            get
            {
                if (columnIndex < 0 || columnIndex >= _columns.Length)
                    throw new ArgumentOutOfRangeException(nameof(columnIndex));
                return _columns[columnIndex];
            }
        }

        public Column? GetColumnOrNull(string name)
        {
            if (string.IsNullOrEmpty(name)) throw new ArgumentNullException(nameof(name));
            return _nameMap.TryGetValue(name, out int col) ? _columns[col] : (Column?)null;
        }

        public IEnumerator<Column> GetEnumerator() => ((IEnumerable<Column>)_columns).GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        public override string ToString() => $"{Count} columns";

        public struct Column
        {
            public string Name { get; }
            public int Index { get; }
            public bool IsHidden { get; }
            public DataViewType Type { get; }
            public Annotations Annotations { get; }

            internal Column(string name, int index, bool isHidden, DataViewType type, Annotations annotations)
            {
                if (string.IsNullOrEmpty(name)) throw new ArgumentNullException(nameof(name));
                Name = name;
                Index = index;
                IsHidden = isHidden;
                Type = type ?? throw new ArgumentNullException(nameof(type));
                Annotations = annotations ?? Annotations.Empty;
            }

            public override string ToString() => $"{Name}: {Type}";
        }

        public struct DetachedColumn
        {
            public string Name { get; }
            public DataViewType Type { get; }
            public Annotations Annotations { get; }

            public DetachedColumn(string name, DataViewType type, Annotations annotations = null)
            {
                if (string.IsNullOrEmpty(name)) throw new ArgumentNullException(nameof(name));
                Name = name;
                Type = type ?? throw new ArgumentNullException(nameof(type));
                Annotations = annotations ?? Annotations.Empty;
            }

            public DetachedColumn(Column column)
            {
                Name = column.Name;
                Type = column.Type;
                Annotations = column.Annotations;
            }
        }

        public sealed class Annotations
        {
            private readonly Delegate[] _getters;

            public DataViewSchema Schema { get; }

            public static Annotations Empty { get; } = new Annotations(new DataViewSchema(new Column[0]), new Delegate[0]);

            internal Annotations(DataViewSchema schema, Delegate[] getters)
            {
                Schema = schema;
                _getters = getters;
            }

            public ValueGetter<TValue> GetGetter<TValue>(Column column)
            {
                if (column.Index >= _getters.Length)
                    throw new ArgumentException(nameof(column));
                return _getters[column.Index] as ValueGetter<TValue>
                    ?? throw new InvalidOperationException("Invalid call to 'GetGetter'");
            }

            public void GetValue<TValue>(string kind, ref TValue value)
            {
                var column = Schema.GetColumnOrNull(kind) ?? throw new InvalidOperationException("Invalid call to 'GetValue'");
                GetGetter<TValue>(column)(ref value);
            }

            internal Delegate GetGetterInternal(int index) => _getters[index];

            public override string ToString() => string.Join(", ", Schema.Select(x => x.Name));

            public sealed class Builder
            {
                private readonly List<(string Name, DataViewType Type, Delegate Getter, Annotations Annotations)> _items = new();

                public void Add(Annotations annotations, Func<string, bool> selector)
                {
                    if (annotations == null)
                        return;
                    if (selector == null) throw new ArgumentNullException(nameof(selector));
                    foreach (var column in annotations.Schema)
                        if (selector(column.Name))
                            _items.Add((column.Name, column.Type, annotations.GetGetterInternal(column.Index), column.Annotations));
                }

                public void Add<TValue>(string name, DataViewType type, ValueGetter<TValue> getter, Annotations annotations = null)
                {
                    if (string.IsNullOrEmpty(name)) throw new ArgumentNullException(nameof(name));
                    if (type == null) throw new ArgumentNullException(nameof(type));
                    if (getter == null) throw new ArgumentNullException(nameof(getter));
                    if (type.RawType != typeof(TValue))
                        throw new ArgumentException($"type.RawType must be of type '{typeof(TValue).FullName}'.", nameof(type));
                    _items.Add((name, type, getter, annotations));
                }

                public void Add(string name, DataViewType type, Delegate getter, Annotations annotations = null)
                {
                    if (string.IsNullOrEmpty(name)) throw new ArgumentNullException(nameof(name));
                    if (type == null) throw new ArgumentNullException(nameof(type));
                    if (getter == null) throw new ArgumentNullException(nameof(getter));
                    var expected = typeof(ValueGetter<>).MakeGenericType(type.RawType);
                    if (!expected.IsInstanceOfType(getter))
                        throw new ArgumentException($"getter must be of type '{expected.FullName}'", nameof(getter));
                    _items.Add((name, type, getter, annotations));
                }

                public void AddPrimitiveValue<TValue>(string name, PrimitiveDataViewType type, TValue value, Annotations annotations = null)
                    => Add(name, type, (ref TValue dst) => dst = value, annotations);

                public Annotations ToAnnotations()
                {
                    var builder = new DataViewSchema.Builder();
                    foreach (var item in _items)
                        builder.AddColumn(item.Name, item.Type, item.Annotations);
                    return new Annotations(builder.ToSchema(), _items.Select(x => x.Getter).ToArray());
                }
            }
        }

        public sealed class Builder
        {
            private readonly List<(string Name, DataViewType Type, Annotations Annotations)> _items = new();

            public void AddColumn(string name, DataViewType type, Annotations annotations = null)
            {
                if (string.IsNullOrEmpty(name)) throw new ArgumentNullException(nameof(name));
                if (type == null) throw new ArgumentNullException(nameof(type));
                _items.Add((name, type, annotations));
            }

            public void AddColumns(IEnumerable<Column> source)
            {
                foreach (var column in source)
                    AddColumn(column.Name, column.Type, column.Annotations);
            }

            public void AddColumns(IEnumerable<DetachedColumn> source)
            {
                foreach (var column in source)
                    AddColumn(column.Name, column.Type, column.Annotations);
            }

            public DataViewSchema ToSchema()
            {
                var last = new Dictionary<string, int>();
                for (int i = 0; i < _items.Count; i++)
                    last[_items[i].Name] = i;
                var columns = new Column[_items.Count];
                for (int i = 0; i < columns.Length; i++)
                    columns[i] = new Column(_items[i].Name, i, last[_items[i].Name] != i, _items[i].Type, _items[i].Annotations);
                return new DataViewSchema(columns);
            }
        }
    }
}
