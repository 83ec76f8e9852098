using System.Numerics.Tensors;

namespace FlashKMeans.Cpu;

/// <summary>Small vector helpers shared by the engine and the CPU backend.</summary>
internal static class VectorMath
{
    /// <summary>Dot product accumulated in float64, for norms that must not lose precision.</summary>
    public static double DotDouble(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
            sum += (double)a[i] * b[i];
        return sum;
    }

    /// <summary>Squared Euclidean length in float32, as the kernels use it.</summary>
    public static float SquaredNorm(ReadOnlySpan<float> x) => TensorPrimitives.Dot(x, x);

    /// <summary>Scales each row of a row-major block to unit length; zero rows are left as they are.</summary>
    public static void NormalizeRows(Span<float> rows, int dimension)
    {
        for (int r = 0; r < rows.Length / dimension; r++)
        {
            var row = rows.Slice(r * dimension, dimension);
            double norm = Math.Sqrt(DotDouble(row, row));
            if (norm > 0)
                TensorPrimitives.Multiply(row, (float)(1.0 / norm), row);
        }
    }
}
