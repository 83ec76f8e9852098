using FlashKMeans.ILGPU;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;

namespace FlashKMeans.Tests.Ilgpu;

/// <summary>
/// The ILGPU backend's tiled assignment on ILGPU's CPU accelerator, with its own small groups (4 × 4 threads) and with
/// the groups of a GPU (16 × 16, a CPU device that mimics an NVIDIA one): partial tiles of rows, centroids and features,
/// outputs poisoned first, every label a nearest centroid by a float64 brute force, every distance the float64 one within
/// float32 rounding, and exact ties to the lower index.
/// </summary>
[TestClass]
public sealed class TiledAssignKernelTests
{
    public static IEnumerable<object[]> Devices()
    {
        yield return ["default"];
        yield return ["nvidia"];
    }

    [TestMethod]
    [DynamicData(nameof(Devices))]
    public void Labels_are_nearest_and_distances_exact_across_partial_tiles(string device)
    {
        var context = Context.Create(builder => builder.CPU(device == "nvidia" ? CPUDevice.Nvidia : CPUDevice.Default));
        using var backend = new IlgpuBackend(context, context.CreateCPUAccelerator(0));
        int side = TiledAssignKernel.Side(backend.Accelerator.MaxNumThreadsPerGroup);
        Assert.AreEqual(device == "nvidia" ? 16 : 4, side, "the group shape this case means to cover");
        foreach (var (n, d, k) in new[] { (1, 1, 1), (130, 33, 70), (64, 17, 64), (200, 5, 3), (97, 128, 130) })
        {
            var rows = TestData.Gaussian(n * d, 1, seed: n + d + k);
            var centroids = TestData.Gaussian(k * d, 1, seed: 7 * k + d);
            if (k > 2)
                centroids.AsSpan(0, d).CopyTo(centroids.AsSpan((k - 1) * d, d));  // an exact tie: the lower index must win
            using var deviceRows = backend.Accelerator.Allocate1D(rows);
            using var deviceCentroids = backend.Accelerator.Allocate1D(centroids);
            using var labels = backend.Accelerator.Allocate1D(Enumerable.Repeat(-7, n).ToArray());
            using var distances = backend.Accelerator.Allocate1D(Enumerable.Repeat(float.NaN, n).ToArray());
            backend.Assign(n, deviceRows.View, deviceCentroids.View, d, k, labels.View, distances.View);
            backend.Accelerator.Synchronize();
            var gotLabels = labels.GetAsArray1D();
            var gotDistances = distances.GetAsArray1D();
            for (int r = 0; r < n; r++)
            {
                string context1 = $"{device}, n {n}, d {d}, K {k}, row {r}";
                var x = rows.AsSpan(r * d, d);
                Assert.IsTrue(gotLabels[r] >= 0 && gotLabels[r] < k, $"{context1}: label {gotLabels[r]}");
                Reference.AssertNearest(x, centroids, d, gotLabels[r], context1);
                if (k > 2)
                    Assert.AreNotEqual(k - 1, gotLabels[r], $"{context1}: the copy of centroid 0 won its tie");
                double exact = Reference.Distance(x, centroids.AsSpan(gotLabels[r] * d, d));
                Assert.AreEqual(exact, gotDistances[r], 1e-5 * (exact + 1), context1);
            }
        }
    }
}
