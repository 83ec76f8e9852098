using System.Runtime.InteropServices;
using FlashKMeans.Data;

namespace FlashKMeans.Tests.Streaming;

[TestClass]
public sealed class HalfPrecisionConversionTests
{
    /// <summary>Every half value, the midpoints between neighbours (the ties), and values beyond both ends of the range.</summary>
    private static float[] Awkward()
    {
        var values = new List<float>();
        for (int bits = 0; bits < 0x10000; bits++)
        {
            float v = (float)BitConverter.UInt16BitsToHalf((ushort)bits);
            if (float.IsNaN(v))
                continue;
            values.Add(v);
            float next = (float)BitConverter.UInt16BitsToHalf((ushort)(bits + 1 & 0xFFFF));
            if (!float.IsNaN(next) && !float.IsInfinity(next) && !float.IsInfinity(v))
            {
                values.Add((float)(((double)v + next) / 2));                          // tie
                values.Add(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits((float)(((double)v + next) / 2)) + 1));
                values.Add(BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits((float)(((double)v + next) / 2)) - 1));
            }
        }
        var random = new Random(5);
        for (int i = 0; i < 200_000; i++)
        {
            float v = BitConverter.Int32BitsToSingle(random.Next() ^ (random.Next(2) << 31));
            if (!float.IsNaN(v))
                values.Add(v);
        }
        values.AddRange([0f, -0f, 65504f, 65520f, -65520f, 1e-8f, -1e-8f, 6e-8f, float.Epsilon, float.MaxValue, float.PositiveInfinity, float.NegativeInfinity]);
        return values.ToArray();
    }

    [TestMethod]
    public void Host_half_conversion_equals_the_cast_for_every_element()
    {
        var values = Awkward();
        var converted = new Half[values.Length];
        HalfPrecisionConversion.ToHalf(values, converted);
        for (int i = 0; i < values.Length; i++)
            Assert.AreEqual(BitConverter.HalfToUInt16Bits((Half)values[i]), BitConverter.HalfToUInt16Bits(converted[i]), $"value {values[i]:R} at {i}");
    }

    [TestMethod]
    public void Host_bfloat16_conversion_rounds_to_nearest_even_like_the_gpu()
    {
        var values = Awkward();
        var converted = new ushort[values.Length];
        HalfPrecisionConversion.ToBFloat16(values, converted);
        for (int i = 0; i < values.Length; i++)
        {
            float expected = Cuda.Gpu.Round(values[i], ComputePrecision.BFloat16);
            Assert.AreEqual(BitConverter.SingleToUInt32Bits(expected) >> 16, (uint)converted[i], $"value {values[i]:R} at {i}");
            Assert.AreEqual(HalfPrecisionConversion.ToBFloat16(values[i]), converted[i]);
        }
    }

    [TestMethod]
    [DataRow(RowElementType.Float32, (int)TransferElement.Float16, 3, 8, 1)]
    [DataRow(RowElementType.Float32, (int)TransferElement.Float16, 128, 128, 4)]
    [DataRow(RowElementType.Float32, (int)TransferElement.BFloat16, 13, 16, 3)]
    [DataRow(RowElementType.Float32, (int)TransferElement.Float32, 5, 8, 2)]
    [DataRow(RowElementType.Float32, (int)TransferElement.Float32, 7, 7, 2)]
    [DataRow(RowElementType.Float16, (int)TransferElement.Float16, 9, 16, 2)]
    [DataRow(RowElementType.Float16, (int)TransferElement.Float16, 64, 64, 3)]
    [DataRow(RowElementType.Float16, (int)TransferElement.Float32, 9, 9, 2)]
    [DataRow(RowElementType.Float16, (int)TransferElement.BFloat16, 9, 16, 2)]
    public void Rows_convert_on_several_threads_with_zeroed_padding(RowElementType from, int toType, int d, int pitch, int threads)
    {
        var to = (TransferElement)toType;
        foreach (int rows in new[] { 1, 511, 512, 513, 5000 })
        {
            var values = TestData.Gaussian(rows, d, seed: rows + d);
            byte[] source = from == RowElementType.Float32
                ? MemoryMarshal.AsBytes(values.AsSpan()).ToArray()
                : MemoryMarshal.AsBytes(values.Select(v => (Half)v).ToArray().AsSpan()).ToArray();
            int eb = HalfPrecisionConversion.ElementBytes(to);
            var destination = Enumerable.Repeat((byte)0xCD, rows * pitch * eb).ToArray();  // poisoned
            HalfPrecisionConversion.ConvertRows(source, from, rows, d, destination, to, pitch, threads);
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < pitch; j++)
                {
                    float input = j >= d ? 0f : from == RowElementType.Float32 ? values[r * d + j] : (float)(Half)values[r * d + j];
                    int at = (r * pitch + j) * eb;
                    uint actual = eb == 4 ? BitConverter.ToUInt32(destination, at) : BitConverter.ToUInt16(destination, at);
                    uint expected = to switch
                    {
                        TransferElement.Float32 => BitConverter.SingleToUInt32Bits(input),
                        TransferElement.Float16 => BitConverter.HalfToUInt16Bits((Half)input),
                        _ => HalfPrecisionConversion.ToBFloat16(input),
                    };
                    Assert.AreEqual(expected, actual, $"rows {rows}, row {r}, column {j}");
                }
            }
        }
    }
}
