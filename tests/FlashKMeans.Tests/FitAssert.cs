using FlashKMeans.Clustering;

namespace FlashKMeans.Tests;

/// <summary>Assertions over whole fits.</summary>
internal static class FitAssert
{
    /// <summary>
    /// Two fits are the same to the bit: centroids, inertia and its history, iterations, re-seeded
    /// clusters and the labels changed at each iteration.
    /// </summary>
    public static void Identical(KMeansModel expected, KMeansModel actual, string what = "fit")
    {
        CollectionAssert.AreEqual(expected.Centroids.ToArray(), actual.Centroids.ToArray(), $"{what}: centroids");
        CollectionAssert.AreEqual(expected.InertiaHistory.ToArray(), actual.InertiaHistory.ToArray(), $"{what}: inertia history");
        Assert.AreEqual(expected.Inertia, actual.Inertia, $"{what}: inertia");
        Assert.AreEqual(expected.Iterations, actual.Iterations, $"{what}: iterations");
        Assert.AreEqual(expected.EmptyClustersReseeded, actual.EmptyClustersReseeded, $"{what}: re-seeded clusters");
        CollectionAssert.AreEqual(expected.Statistics.Select(s => s.LabelsChanged).ToArray(),
            actual.Statistics.Select(s => s.LabelsChanged).ToArray(), $"{what}: labels changed");
    }
}
