namespace FlashKMeans.Selection;

/// <summary>How well one number of clusters fits the data (see <see cref="ClusterCountSweep"/>).</summary>
/// <param name="NumberOfClusters">K.</param>
/// <param name="Inertia">Σ w·(squared distance to the nearest centroid); falls as K grows.</param>
/// <param name="DaviesBouldin">Davies–Bouldin index: the mean over clusters of the worst (sₖ + sⱼ) / ‖cₖ − cⱼ‖, s the
/// mean distance of a cluster's rows to its centroid. Lower is better.</param>
/// <param name="CalinskiHarabasz">Calinski–Harabasz index: (between-cluster sum of squares / (K − 1)) / (inertia /
/// (n − K)). Higher is better.</param>
/// <param name="Silhouette">The mean silhouette (b − a) / max(a, b) over a seeded sample of rows, distances taken within
/// the sample (scikit-learn's <c>silhouette_score</c> with <c>sample_size</c>). Higher is better; in [−1, 1].</param>
public sealed record ClusterCountScore(int NumberOfClusters, double Inertia, double DaviesBouldin, double CalinskiHarabasz, double Silhouette);
