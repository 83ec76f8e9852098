using System.Text.Json.Serialization;

namespace FlashKMeans.Tool;

/// <summary>What <c>fit --summary</c> writes: the input, the backend, the result and its timing.</summary>
internal sealed record FitSummary(
    string? Input, long Rows, int Dimension, string Backend, int NumberOfClusters, long[] ClusterSizes, int Iterations, bool Converged,
    double Inertia, long EmptyClustersReseeded, double Seconds, double[] InertiaHistory, string? Model, double Imbalance);

/// <summary>One K of a <c>choose-k</c> sweep.</summary>
internal sealed record ChooseKScore(int NumberOfClusters, double Inertia, double DaviesBouldin, double CalinskiHarabasz, double Silhouette);

/// <summary>What <c>choose-k --summary</c> writes: the proposal, each criterion's choice and every K's scores.</summary>
internal sealed record ChooseKSummary(int Proposed, int Knee, int BestDaviesBouldin, int BestCalinskiHarabasz, int BestSilhouette, ChooseKScore[] Scores);

/// <summary>The summaries' JSON, generated at compile time (camelCase, indented).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(FitSummary))]
[JsonSerializable(typeof(ChooseKSummary))]
internal sealed partial class SummaryJson : JsonSerializerContext;
