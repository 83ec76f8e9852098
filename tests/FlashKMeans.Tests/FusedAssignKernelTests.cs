using FlashKMeans.Cpu;
using FlashKMeans.Primitives;

namespace FlashKMeans.Tests;

/// <summary>
/// The fused kernels against float64 brute force over every d from 1 to 70 and K around the panel edges,
/// at every SIMD width this machine runs; and the pruning job kernel against the fused kernel, bit for bit.
/// </summary>
[TestClass]
public sealed class FusedAssignKernelTests
{
    private static readonly int[] ClusterCounts = [1, 3, 7, 8, 15, 16, 17, 31, 32, 33, 100];

    // 131 rows: two full 64-row tiles and a ragged 3-row micro-tile.
    private const int RowCount = 131;

    public static IEnumerable<object[]> Widths()
    {
        yield return [4];
        if (System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated)
            yield return [8];
        if (Vector512Ops.IsSupported)
            yield return [16];
    }

    [TestMethod]
    [DynamicData(nameof(Widths))]
    public void Assign_matches_float64_nearest_centroid_for_every_small_dimension(int width)
    {
        for (int d = 1; d <= 70; d++)
        {
            foreach (int k in ClusterCounts)
            {
                var (rows, centroids) = RandomProblem(d, k, seed: d * 1000 + k);
                foreach (bool quads in new[] { false, true })
                {
                    var packed = PackedCentroids.Pack(centroids, d, width, featureQuads: quads);
                    var labels = new int[RowCount];
                    var distances = new float[RowCount];
                    Array.Fill(labels, -7);
                    Array.Fill(distances, float.NaN);
                    FusedAssignKernel.Assign(rows, packed, labels, distances);
                    // Labels alone (no distances asked for) are the same labels.
                    var alone = Enumerable.Repeat(-7, RowCount).ToArray();
                    FusedAssignKernel.Assign(rows, packed, alone, default);
                    CollectionAssert.AreEqual(labels, alone, $"width {width}, d {d}, K {k}: labels without distances");
                    for (int r = 0; r < RowCount; r++)
                    {
                        var x = rows.AsSpan(r * d, d);
                        string context = $"width {width}, d {d}, K {k}, feature quads {packed.FeatureQuads is not null}, row {r}";
                        Assert.IsTrue(labels[r] >= 0 && labels[r] < k, context);
                        Reference.AssertNearest(x, centroids, d, labels[r], context);
                        double exact = Reference.Distance(x, centroids.AsSpan(labels[r] * d, d));
                        Assert.AreEqual(exact, distances[r], Tolerance(x, centroids, d), context);
                        Assert.IsTrue(distances[r] >= 0, context);
                    }
                }
            }
        }
    }

    [TestMethod]
    public void Feature_quad_kernel_takes_every_small_packing_and_sends_exact_ties_to_the_lower_index()
    {
        if (!FeatureQuadKernel.IsSupported)
            Assert.Inconclusive("This machine has no AVX-512: the feature-quad kernel does not run here.");
        var random = new Random(5);
        foreach (int d in new[] { 32, 33, 34, 35, 64, 130 })
        {
            foreach (int k in new[] { 1, 2, 5, 15, 16 })
            {
                var (rows, centroids) = RandomProblem(d, k, seed: 91 * d + k);
                var packed = PackedCentroids.Pack(centroids, d, 16, featureQuads: true);
                Assert.IsNotNull(packed.FeatureQuads, $"d {d}, K {k}: every K up to 16 takes the kernel");
                // Each row is a copy of a centroid that also appears at a higher index: an exact tie at distance 0 up to
                // rounding, which the lower index must win.
                if (k > 1)
                {
                    centroids.AsSpan(0, d).CopyTo(centroids.AsSpan((k - 1) * d, d));
                    packed.Fill(centroids);
                    for (int r = 0; r < RowCount; r++)
                        centroids.AsSpan(random.Next(2) == 0 ? 0 : (k - 1) * d, d).CopyTo(rows.AsSpan(r * d, d));
                }
                var labels = new int[RowCount];
                var distances = new float[RowCount];
                FusedAssignKernel.Assign(rows, packed, labels, distances);
                for (int r = 0; r < RowCount; r++)
                {
                    string context = $"d {d}, K {k}, row {r}";
                    Reference.AssertNearest(rows.AsSpan(r * d, d), centroids, d, labels[r], context);
                    if (k > 1)
                        Assert.AreNotEqual(k - 1, labels[r], context + ": the tie went to the higher index");
                }
            }
        }
        // A K past one panel, rows shorter than the kernel's minimum, and a packing that did not ask keep the chain kernel.
        Assert.IsNull(PackedCentroids.Pack(new float[17 * 32], 32, 16, featureQuads: true).FeatureQuads);
        Assert.IsNull(PackedCentroids.Pack(new float[16 * 31], 31, 16, featureQuads: true).FeatureQuads);
        Assert.IsNull(PackedCentroids.Pack(new float[16 * 32], 32, 16).FeatureQuads);
    }

    [TestMethod]
    [DynamicData(nameof(Widths))]
    public void AllDistances_match_float64_for_every_small_dimension(int width)
    {
        for (int d = 1; d <= 70; d += 3)
        {
            foreach (int k in ClusterCounts)
            {
                var (rows, centroids) = RandomProblem(d, k, seed: d * 7 + k);
                var packed = PackedCentroids.Pack(centroids, d, width);
                var all = new float[RowCount * k];
                FusedAssignKernel.AllDistances(rows, packed, all);
                for (int r = 0; r < RowCount; r++)
                {
                    var x = rows.AsSpan(r * d, d);
                    double tolerance = Tolerance(x, centroids, d);
                    for (int c = 0; c < k; c++)
                    {
                        double exact = Reference.Distance(x, centroids.AsSpan(c * d, d));
                        Assert.AreEqual(exact, all[r * k + c], tolerance, $"width {width}, d {d}, K {k}, row {r}, centroid {c}");
                    }
                }
            }
        }
    }

    [TestMethod]
    [DynamicData(nameof(Widths))]
    public void Panel_minima_over_a_permuted_packing_reproduce_assign_bit_for_bit(int width)
    {
        // What pruning relies on: any order of centroids in panels, with holes, combined panel by panel
        // with (key, index) order, gives exactly the labels and distances of the plain kernel.
        var random = new Random(width);
        foreach (int d in new[] { 1, 5, 16, 33, 70 })
        {
            foreach (int k in ClusterCounts)
            {
                var (rows, centroids) = RandomProblem(d, k, seed: 31 * d + k);
                // Repeated centroids make exact ties, which must go to the lower index.
                if (k > 4)
                    centroids.AsSpan(0, d).CopyTo(centroids.AsSpan((k - 1) * d, d));
                var plain = PackedCentroids.Pack(centroids, d, width);
                var labels = new int[RowCount];
                var distances = new float[RowCount];
                FusedAssignKernel.Assign(rows, plain, labels, distances);

                int panels = ((k + width - 1) / width + 1) & ~1;
                var order = Enumerable.Repeat(-1, panels * width).ToArray();
                var slots = Enumerable.Range(0, order.Length).OrderBy(_ => random.Next()).Take(k).ToArray();
                for (int c = 0; c < k; c++)
                    order[slots[c]] = c;
                var permuted = PackedCentroids.PackPermuted(centroids, d, width, order);
                var best = Enumerable.Repeat(float.PositiveInfinity, RowCount).ToArray();
                var bestIndex = new float[RowCount];
                var everyRow = Enumerable.Range(0, RowCount).ToArray();
                var minima = new float[RowCount];
                var argmins = new float[RowCount];
                for (int p = 0; p < panels; p++)
                {
                    FusedAssignKernel.PanelMinimum(rows, permuted, p, everyRow, minima, argmins);
                    for (int r = 0; r < RowCount; r++)
                    {
                        if (minima[r] < best[r] || (minima[r] == best[r] && argmins[r] < bestIndex[r]))
                            (best[r], bestIndex[r]) = (minima[r], argmins[r]);
                    }
                }
                for (int r = 0; r < RowCount; r++)
                {
                    var x = rows.AsSpan(r * d, d);
                    float rowNorm = VectorMath.SquaredNorm(x); // the row norm every CPU path adds to its keys
                    string context = $"width {width}, d {d}, K {k}, row {r}";
                    Assert.AreEqual(labels[r], (int)bestIndex[r], context);
                    Assert.AreEqual(distances[r], Math.Max(0f, rowNorm + best[r]), context);
                }
            }
        }
    }

    [TestMethod]
    [DynamicData(nameof(Widths))]
    public void Panel_distances_of_listed_rows_reproduce_all_distances_bit_for_bit_at_any_width(int width)
    {
        // What candidate pruning relies on: the distances of any subset of rows, in any order, with repeats, from a
        // packing of any width, are exactly those the plain kernel writes at the machine's own width.
        var random = new Random(width);
        foreach (int d in new[] { 1, 2, 5, 16, 17, 33, 70, 128 })
        {
            foreach (int k in new[] { 1, 2, 3, 4, 5, 8, 9, 15, 16, 17, 33 })
            {
                var (rows, centroids) = RandomProblem(d, k, seed: 17 * d + k);
                var reference = new float[RowCount * k];
                // Without fused multiply-adds (x86 lacking FMA) only the same width is promised; the caller narrows only with them.
                int referenceWidth = System.Runtime.Intrinsics.X86.Fma.IsSupported ? PackedCentroids.PreferredWidth : width;
                FusedAssignKernel.AllDistances(rows, PackedCentroids.Pack(centroids, d, referenceWidth), reference);
                var listed = Enumerable.Range(0, RowCount).Where(_ => random.Next(3) > 0).Concat([5, 5, 0, RowCount - 1])
                    .OrderBy(_ => random.Next()).ToArray();
                var packed = PackedCentroids.Pack(centroids, d, width);
                var distances = new float[listed.Length * k];
                for (int p = 0; p < (k + width - 1) / width; p++)
                    FusedAssignKernel.PanelDistances(rows, packed, p, listed, distances);
                for (int n = 0; n < listed.Length; n++)
                {
                    for (int c = 0; c < k; c++)
                    {
                        float expected = reference[listed[n] * k + c], actual = distances[n * k + c];
                        Assert.AreEqual(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(actual),
                            $"width {width}, d {d}, K {k}, row {listed[n]}, centroid {c}: {expected} vs {actual}");
                    }
                }
            }
        }
    }

    /// <summary>
    /// Rounding a float32 ‖x‖² + ‖c‖² − 2·x·c can incur: a few (d + 2) units of 2⁻²⁴ of (‖x‖ + ‖c‖)².
    /// </summary>
    private static double Tolerance(ReadOnlySpan<float> x, float[] centroids, int d)
    {
        double largest = 0;
        for (int c = 0; c < centroids.Length / d; c++)
            largest = Math.Max(largest, Reference.Distance(centroids.AsSpan(c * d, d), new float[d]));
        double reach = Math.Sqrt(Reference.Distance(x, new float[d])) + Math.Sqrt(largest);
        return 4.0 * (d + 2) * Math.Pow(2, -24) * reach * reach;
    }

    private static (float[] Rows, float[] Centroids) RandomProblem(int d, int k, int seed)
    {
        // Offset Gaussian data: a non-zero mean makes ‖x‖² large against the distances, the hard case.
        var random = new Random(seed);
        var rows = new float[RowCount * d];
        for (int i = 0; i < rows.Length; i++)
            rows[i] = (float)(3 + TestData.Normal(random));
        var centroids = new float[k * d];
        for (int i = 0; i < centroids.Length; i++)
            centroids[i] = (float)(3 + TestData.Normal(random));
        return (rows, centroids);
    }
}
