using FlashKMeans.Data;

namespace FlashKMeans.Backends;

/// <summary>
/// A binding whose backend can also run k-means‖'s reduction: k-means++ over the weighted candidates, K steps each of
/// which passes over every candidate. Its cost grows as K² (about 10·K candidates), which the host cannot afford at
/// large K: at K = 65,536 and d = 128 it is about 1.4·10¹⁴ flops, half an hour on a 16-core host and a second of
/// arithmetic on a GPU.
/// </summary>
internal interface ISeedReductionHost
{
    /// <summary>
    /// Binds the candidates on this backend when the reduction is large enough to be worth it there; <c>null</c> to
    /// leave it to the host.
    /// </summary>
    IKMeansDataBinding? TryBindCandidates(IBatchSource candidates, DataSummary summary, int numberOfClusters, CancellationToken cancellationToken);
}
