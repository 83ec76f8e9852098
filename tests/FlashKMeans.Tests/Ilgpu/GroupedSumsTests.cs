using FlashKMeans.ILGPU;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace FlashKMeans.Tests.Ilgpu;

/// <summary>
/// The ILGPU backend's update (rows grouped by label, then summed run by run) on ILGPU's CPU accelerator: its fixed-point
/// sums are exactly the integers a host loop adds row by row, with runs that cross the items' spans, empty clusters,
/// zero weights and a last span cut short; outputs poisoned first.
/// </summary>
[TestClass]
public sealed class GroupedSumsTests
{
    [TestMethod]
    public void Grouped_sums_are_the_row_by_row_fixed_point_sums()
    {
        var context = Context.Create(builder => builder.CPU(CPUDevice.Default));
        using var backend = new IlgpuBackend(context, context.CreateCPUAccelerator(0));
        var accelerator = backend.Accelerator;
        var random = new Random(3);
        foreach (var (n, d, k) in new[] { (1, 1, 1), (700, 3, 5), (2 * IlgpuBackend.GroupedSpan + 17, 9, 40), (300, 2, 300) })
        {
            var rows = TestData.Gaussian(n * d, 4, seed: n + d);
            // Cluster 0 stays empty where K > 1; every seventh row has weight 0.
            var labels = Enumerable.Range(0, n).Select(_ => k == 1 ? 0 : 1 + random.Next(k - 1)).ToArray();
            var weights = Enumerable.Range(0, n).Select(r => r % 7 == 3 ? 0f : 0.25f + random.Next(4)).ToArray();
            const float scale = 1 << 20, weightScale = 1 << 16;
            var expected = new long[k * d];
            var expectedWeights = new long[k];
            for (int r = 0; r < n; r++)
            {
                if (weights[r] == 0)
                    continue;
                for (int f = 0; f < d; f++)
                    expected[labels[r] * d + f] += RoundHalfAway(rows[r * d + f] * weights[r] * scale);
                expectedWeights[labels[r]] += RoundHalfAway(weights[r] * weightScale);
            }
            using var deviceRows = accelerator.Allocate1D(rows);
            using var deviceWeights = accelerator.Allocate1D(weights);
            using var deviceLabels = accelerator.Allocate1D(labels);
            using var sums = accelerator.Allocate1D(Enumerable.Repeat(long.MinValue, k * d).ToArray());
            using var weightSums = accelerator.Allocate1D(Enumerable.Repeat(long.MinValue, k).ToArray());
            using var counts = accelerator.Allocate1D<int>(k);
            using var cursors = accelerator.Allocate1D<int>(k);
            using var order = accelerator.Allocate1D(Enumerable.Repeat(-1, n).ToArray());
            backend.Accumulate(n, deviceRows.View, deviceWeights.View, deviceLabels.View, d, k, scale, weightScale, sums.View, weightSums.View,
                counts.View, cursors.View, order.View, new int[k]);
            accelerator.Synchronize();
            string where = $"n {n}, d {d}, K {k}";
            CollectionAssert.AreEqual(expected, sums.GetAsArray1D(), where + ": feature sums");
            CollectionAssert.AreEqual(expectedWeights, weightSums.GetAsArray1D(), where + ": weight sums");
            CollectionAssert.AreEquivalent(Enumerable.Range(0, n).ToArray(), order.GetAsArray1D(), where + ": every row placed once");
        }
    }

    // The backend's conversion to fixed point, in float32 as its kernels compute it on every accelerator.
    private static long RoundHalfAway(float value) => (long)(value + (value >= 0 ? 0.5f : -0.5f));
}
