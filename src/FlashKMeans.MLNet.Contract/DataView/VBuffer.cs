// Offline contract: mirrors the public shape of Microsoft.ML.DataView 5.0.0 VBuffer.cs / VBufferEditor.cs.
using System;
using System.Collections.Generic;

namespace Microsoft.ML.Data
{
    public readonly struct VBuffer<T>
    {
        private readonly T[] _values;
        private readonly int[] _indices;
        private readonly int _count;

        public readonly int Length;

        public VBuffer(int length, T[] values, int[] indices = null)
        {
            if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
            if ((values?.Length ?? 0) < length) throw new ArgumentException("Not enough values.", nameof(values));
            Length = length;
            _count = length;
            _values = values;
            _indices = indices;
        }

        public VBuffer(int length, int count, T[] values, int[] indices)
        {
            if (length < 0) throw new ArgumentOutOfRangeException(nameof(length));
            if (count < 0 || count > length) throw new ArgumentOutOfRangeException(nameof(count));
            if ((values?.Length ?? 0) < count) throw new ArgumentException("Not enough values.", nameof(values));
            if (count != length && (indices?.Length ?? 0) < count) throw new ArgumentException("Not enough indices.", nameof(indices));
            Length = length;
            _count = count;
            _values = values;
            _indices = indices;
        }

        public bool IsDense => _count == Length;

        public ReadOnlySpan<T> GetValues() => _values.AsSpan(0, _count);

        public ReadOnlySpan<int> GetIndices() => IsDense ? default : _indices.AsSpan(0, _count);

        public void CopyTo(Span<T> destination) => CopyTo(destination, 0);

        public void CopyTo(Span<T> destination, int destinationIndex, T defaultValue = default)
        {
            if (destinationIndex < 0 || destinationIndex > destination.Length - Length)
                throw new ArgumentException("Not large enough to hold these values.", nameof(destination));
            if (Length == 0)
                return;
            var dst = destination.Slice(destinationIndex, Length);
            if (IsDense)
            {
                _values.AsSpan(0, Length).CopyTo(dst);
                return;
            }
            dst.Fill(defaultValue);
            for (int i = 0; i < _count; i++)
                dst[_indices[i]] = _values[i];
        }

        public void CopyTo(ref VBuffer<T> destination)
        {
            var editor = VBufferEditor.Create(ref destination, Length, _count);
            if (_count > 0)
            {
                _values.AsSpan(0, _count).CopyTo(editor.Values);
                if (!IsDense)
                    _indices.AsSpan(0, _count).CopyTo(editor.Indices);
            }
            destination = editor.Commit();
        }

        public void CopyToDense(ref VBuffer<T> destination)
        {
            var editor = VBufferEditor.Create(ref destination, Length);
            CopyTo(editor.Values);
            destination = editor.Commit();
        }

        public IEnumerable<T> DenseValues()
        {
            var dense = new T[Length];
            CopyTo(dense);
            return dense;
        }

        public T GetItemOrDefault(int index)
        {
            if (index < 0 || index >= Length) throw new ArgumentOutOfRangeException(nameof(index));
            if (IsDense) return _values[index];
            int i = Array.BinarySearch(_indices, 0, _count, index);
            return i >= 0 ? _values[i] : default;
        }

        // Internal access for the editor: buffers are reused as ML.NET does.
        internal T[] ValuesBuffer => _values;
        internal int[] IndicesBuffer => _indices;
    }

    public static class VBufferEditor
    {
        public static VBufferEditor<T> Create<T>(ref VBuffer<T> destination, int newLogicalLength, int? valuesCount = null,
            int? maxValuesCapacity = null, bool keepOldOnResize = false, bool requireIndicesOnDense = false)
        {
            if (newLogicalLength < 0) throw new ArgumentOutOfRangeException(nameof(newLogicalLength));
            int count = valuesCount ?? newLogicalLength;
            if (count < 0 || count > newLogicalLength) throw new ArgumentOutOfRangeException(nameof(valuesCount));
            var values = destination.ValuesBuffer;
            bool createsNewValues = false;
            if (values == null || values.Length < count)
            {
                var fresh = new T[count];
                if (keepOldOnResize && values != null)
                    values.AsSpan().CopyTo(fresh);
                values = fresh;
                createsNewValues = true;
            }
            var indices = destination.IndicesBuffer;
            bool createsNewIndices = false;
            if ((count < newLogicalLength || requireIndicesOnDense) && (indices == null || indices.Length < count))
            {
                indices = new int[count];
                createsNewIndices = true;
            }
            return new VBufferEditor<T>(newLogicalLength, count, values, indices, createsNewValues, createsNewIndices);
        }

        public static VBufferEditor<T> CreateFromBuffer<T>(ref VBuffer<T> destination)
            => Create(ref destination, destination.Length, destination.GetValues().Length);
    }

    public readonly ref struct VBufferEditor<T>
    {
        private readonly int _logicalLength;
        private readonly T[] _values;
        private readonly int[] _indices;

        public readonly Span<T> Values;
        public readonly Span<int> Indices;
        public bool CreatedNewValues { get; }
        public bool CreatedNewIndices { get; }

        internal VBufferEditor(int logicalLength, int physicalValuesCount, T[] values, int[] indices, bool createdNewValues, bool createdNewIndices)
        {
            _logicalLength = logicalLength;
            _values = values;
            _indices = indices;
            Values = values.AsSpan(0, physicalValuesCount);
            Indices = indices != null ? indices.AsSpan(0, Math.Min(indices.Length, physicalValuesCount)) : default;
            CreatedNewValues = createdNewValues;
            CreatedNewIndices = createdNewIndices;
        }

        public VBuffer<T> Commit() => new VBuffer<T>(_logicalLength, Values.Length, _values, _indices);

        public VBuffer<T> CommitTruncated(int physicalValuesCount)
            => new VBuffer<T>(_logicalLength, physicalValuesCount, _values, _indices);
    }
}
