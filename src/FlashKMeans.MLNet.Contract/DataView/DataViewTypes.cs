// Offline contract: mirrors the public shape of Microsoft.ML.DataView 5.0.0 (DataViewType.cs,
// KeyDataViewType.cs, VectorType.cs, DataViewRowId.cs). Written from the documented API, not copied.
using System;
using System.Collections.Immutable;
using System.Linq;

namespace Microsoft.ML.Data
{
    public abstract class DataViewType : IEquatable<DataViewType>
    {
        private protected DataViewType(Type rawType)
        {
            RawType = rawType ?? throw new ArgumentNullException(nameof(rawType));
        }

        public Type RawType { get; }

        public abstract bool Equals(DataViewType other);
    }

    public abstract class StructuredDataViewType : DataViewType
    {
        protected StructuredDataViewType(Type rawType) : base(rawType) { }
    }

    public abstract class PrimitiveDataViewType : DataViewType
    {
        protected PrimitiveDataViewType(Type rawType) : base(rawType)
        {
            if (typeof(IDisposable).IsAssignableFrom(rawType))
                throw new ArgumentException("A PrimitiveDataViewType cannot have a disposable RawType", nameof(rawType));
        }
    }

    public sealed class TextDataViewType : PrimitiveDataViewType
    {
        public static TextDataViewType Instance { get; } = new TextDataViewType();
        private TextDataViewType() : base(typeof(ReadOnlyMemory<char>)) { }
        public override bool Equals(DataViewType other) => ReferenceEquals(other, this);
        public override string ToString() => "String";
    }

    public sealed class BooleanDataViewType : PrimitiveDataViewType
    {
        public static BooleanDataViewType Instance { get; } = new BooleanDataViewType();
        private BooleanDataViewType() : base(typeof(bool)) { }
        public override bool Equals(DataViewType other) => ReferenceEquals(other, this);
        public override string ToString() => "Boolean";
    }

    public sealed class RowIdDataViewType : PrimitiveDataViewType
    {
        public static RowIdDataViewType Instance { get; } = new RowIdDataViewType();
        private RowIdDataViewType() : base(typeof(DataViewRowId)) { }
        public override bool Equals(DataViewType other) => ReferenceEquals(other, this);
        public override string ToString() => "DataViewRowId";
    }

    public sealed class NumberDataViewType : PrimitiveDataViewType
    {
        private NumberDataViewType(Type rawType) : base(rawType) { }

        public static NumberDataViewType SByte { get; } = new NumberDataViewType(typeof(sbyte));
        public static NumberDataViewType Byte { get; } = new NumberDataViewType(typeof(byte));
        public static NumberDataViewType Int16 { get; } = new NumberDataViewType(typeof(short));
        public static NumberDataViewType UInt16 { get; } = new NumberDataViewType(typeof(ushort));
        public static NumberDataViewType Int32 { get; } = new NumberDataViewType(typeof(int));
        public static NumberDataViewType UInt32 { get; } = new NumberDataViewType(typeof(uint));
        public static NumberDataViewType Int64 { get; } = new NumberDataViewType(typeof(long));
        public static NumberDataViewType UInt64 { get; } = new NumberDataViewType(typeof(ulong));
        public static NumberDataViewType Single { get; } = new NumberDataViewType(typeof(float));
        public static NumberDataViewType Double { get; } = new NumberDataViewType(typeof(double));

        public override bool Equals(DataViewType other) => ReferenceEquals(other, this);
        public override string ToString() => RawType.Name;
    }

    public sealed class KeyDataViewType : PrimitiveDataViewType
    {
        public KeyDataViewType(Type type, ulong count) : base(type)
        {
            if (!IsValidDataType(type))
                throw new ArgumentException("Type is not valid, it must be Byte, UInt16, UInt32, or UInt64.", nameof(type));
            if (count == 0 || MaxOf(type) < count)
                throw new ArgumentException($"The cardinality of a KeyDataViewType must not exceed {type.Name}.MaxValue and must be strictly positive, but got {count}.", nameof(count));
            Count = count;
        }

        public KeyDataViewType(Type type, int count) : this(type, (ulong)Math.Max(0, count))
        {
        }

        public ulong Count { get; }

        public static bool IsValidDataType(Type type)
            => type == typeof(uint) || type == typeof(ulong) || type == typeof(ushort) || type == typeof(byte);

        private static ulong MaxOf(Type type)
            => type == typeof(uint) ? uint.MaxValue : type == typeof(ulong) ? ulong.MaxValue : type == typeof(ushort) ? ushort.MaxValue : byte.MaxValue;

        public override bool Equals(DataViewType other)
            => other is KeyDataViewType key && key.RawType == RawType && key.Count == Count;

        public override bool Equals(object obj) => obj is DataViewType t && Equals(t);

        public override int GetHashCode() => HashCode.Combine(RawType, Count);

        public override string ToString() => $"Key<{RawType.Name}, 0-{Count - 1}>";
    }

    public sealed class VectorDataViewType : StructuredDataViewType
    {
        public VectorDataViewType(PrimitiveDataViewType itemType, int size = 0)
            : this(itemType, ImmutableArray.Create(size))
        {
        }

        public VectorDataViewType(PrimitiveDataViewType itemType, params int[] dimensions)
            : this(itemType, ImmutableArray.Create(dimensions ?? Array.Empty<int>()))
        {
        }

        public VectorDataViewType(PrimitiveDataViewType itemType, ImmutableArray<int> dimensions)
            : base(typeof(VBuffer<>).MakeGenericType(itemType?.RawType ?? throw new ArgumentNullException(nameof(itemType))))
        {
            if (dimensions.Any(d => d < 0))
                throw new ArgumentOutOfRangeException(nameof(dimensions));
            ItemType = itemType;
            Dimensions = dimensions.Length == 0 ? ImmutableArray.Create(0) : dimensions;
            Size = Dimensions.Any(d => d == 0) ? 0 : Dimensions.Aggregate(1, (a, b) => checked(a * b));
        }

        public PrimitiveDataViewType ItemType { get; }

        public ImmutableArray<int> Dimensions { get; }

        public int Size { get; }

        public bool IsKnownSize => Size > 0;

        public override bool Equals(DataViewType other)
            => other is VectorDataViewType v && v.ItemType.Equals(ItemType) && v.Dimensions.SequenceEqual(Dimensions);

        public override bool Equals(object obj) => obj is DataViewType t && Equals(t);

        public override int GetHashCode() => HashCode.Combine(ItemType, Size);

        public override string ToString()
            => IsKnownSize ? $"Vector<{ItemType}, {string.Join(", ", Dimensions)}>" : $"Vector<{ItemType}>";
    }

    public readonly struct DataViewRowId : IEquatable<DataViewRowId>
    {
        public readonly ulong Low;
        public readonly ulong High;

        public DataViewRowId(ulong low, ulong high)
        {
            Low = low;
            High = high;
        }

        public bool Equals(DataViewRowId other) => Low == other.Low && High == other.High;
        public override bool Equals(object obj) => obj is DataViewRowId other && Equals(other);
        public override int GetHashCode() => HashCode.Combine(Low, High);
        public static bool operator ==(DataViewRowId a, DataViewRowId b) => a.Equals(b);
        public static bool operator !=(DataViewRowId a, DataViewRowId b) => !a.Equals(b);
        public override string ToString() => $"{High:X16}{Low:X16}";
    }
}
