using System.Text;

namespace FlashKMeans.MLNet.Onnx;

/// <summary>
/// The few pieces of the protocol-buffers wire format an ONNX model file needs: varints, length-delimited fields and
/// packed repeated numbers. Nested messages are written into their own writer and added as bytes.
/// </summary>
internal sealed class ProtobufWriter
{
    private readonly MemoryStream _bytes = new();

    public byte[] ToArray() => _bytes.ToArray();

    public ProtobufWriter Int(int field, long value)
    {
        Tag(field, 0);
        Varint((ulong)value);
        return this;
    }

    public ProtobufWriter Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> four = stackalloc byte[4];
        BitConverter.TryWriteBytes(four, value);
        _bytes.Write(four);
        return this;
    }

    public ProtobufWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2);
        Varint((ulong)value.Length);
        _bytes.Write(value);
        return this;
    }

    public ProtobufWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public ProtobufWriter Message(int field, ProtobufWriter message) => Bytes(field, message.ToArray());

    public ProtobufWriter PackedInts(int field, IEnumerable<long> values)
    {
        var inner = new ProtobufWriter();
        foreach (long v in values)
            inner.Varint((ulong)v);
        return Bytes(field, inner.ToArray());
    }

    public ProtobufWriter PackedFloats(int field, ReadOnlySpan<float> values)
    {
        var raw = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
            BitConverter.TryWriteBytes(raw.AsSpan(i * 4), values[i]);
        return Bytes(field, raw);
    }

    private void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

    private void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            _bytes.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _bytes.WriteByte((byte)value);
    }
}
