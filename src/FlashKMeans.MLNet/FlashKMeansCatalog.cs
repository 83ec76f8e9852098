using FlashKMeans.MLNet;

// In ML.NET's namespace, as ML.NET's own trainer packages do, so that switching from KMeans(...) to
// FlashKMeans(...) needs no new using directive.
namespace Microsoft.ML;

/// <summary>
/// <c>mlContext.Clustering.Trainers.FlashKMeans(...)</c>: the FlashKMeans trainer in ML.NET's clustering catalog.
/// </summary>
public static class FlashKMeansClusteringExtensions
{
    /// <summary>
    /// Exact Lloyd k-means on a CUDA GPU when one is usable, otherwise on the SIMD CPU backend. Takes the same
    /// arguments as <c>KMeans(...)</c> and produces the same columns (<c>Score</c>, <c>PredictedLabel</c>).
    /// </summary>
    /// <param name="catalog">The clustering catalog's trainers.</param>
    /// <param name="featureColumnName">The feature column: a known-size vector of Single.</param>
    /// <param name="exampleWeightColumnName">An optional Single column of non-negative row weights.</param>
    /// <param name="numberOfClusters">K.</param>
    /// <exception cref="ArgumentOutOfRangeException">An argument is out of range; the message names it.</exception>
    public static GpuKMeansTrainer FlashKMeans(this ClusteringCatalog.ClusteringTrainers catalog,
        string featureColumnName = GpuKMeansTrainer.Defaults.FeatureColumnName,
        string? exampleWeightColumnName = null,
        int numberOfClusters = GpuKMeansTrainer.Defaults.NumberOfClusters)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var options = new GpuKMeansTrainer.Options
        {
            FeatureColumnName = featureColumnName,
            ExampleWeightColumnName = exampleWeightColumnName,
            NumberOfClusters = numberOfClusters,
        };
        return new GpuKMeansTrainer(options, MLNetInternals.EnvironmentOf(catalog));
    }

    /// <summary>FlashKMeans with every setting, including device, precision, batch size and seed.</summary>
    /// <param name="catalog">The clustering catalog's trainers.</param>
    /// <param name="options">The settings; they are copied.</param>
    public static GpuKMeansTrainer FlashKMeans(this ClusteringCatalog.ClusteringTrainers catalog, GpuKMeansTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new GpuKMeansTrainer(options, MLNetInternals.EnvironmentOf(catalog));
    }

    /// <summary>
    /// Helps choose the number of clusters: fits FlashKMeans for every K from <paramref name="minimum"/> to
    /// <paramref name="maximum"/> on the feature column (read once into memory), scores each fit by inertia,
    /// Davies–Bouldin, Calinski–Harabasz and a sampled silhouette, and proposes a K by each and by their majority
    /// (<see cref="global::FlashKMeans.Selection.ClusterCountSweep"/>).
    /// </summary>
    /// <param name="catalog">The clustering catalog.</param>
    /// <param name="data">The data.</param>
    /// <param name="minimum">The smallest K, at least 2.</param>
    /// <param name="maximum">The largest K.</param>
    /// <param name="featureColumnName">The feature column: a known-size vector of Single.</param>
    /// <param name="seed">Seed of every fit and of the silhouette's sample.</param>
    /// <exception cref="ArgumentOutOfRangeException">A missing or mistyped column, or a bad range; the message names it.</exception>
    /// <exception cref="ArgumentException">A NaN or infinite feature, named by row.</exception>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("ApiDesign", "RS0027",
        Justification = "Shipped before the overloads that take the trainer's options; they differ in the fifth parameter's type, so no call is ambiguous.")]
    public static global::FlashKMeans.Selection.ClusterCountReport ChooseNumberOfClusters(this ClusteringCatalog catalog, IDataView data,
        int minimum, int maximum, string featureColumnName = GpuKMeansTrainer.Defaults.FeatureColumnName, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(data);
        var column = ClusteringColumns.FindFeatures(data.Schema, featureColumnName, null, nameof(data));
        int d = ((Data.VectorDataViewType)column.Type).Size;
        return global::FlashKMeans.Selection.ClusterCountSweep.Run(FeatureRows.Read(data, column, default), d, minimum, maximum,
            new global::FlashKMeans.KMeansOptions { Seed = seed });
    }

    /// <summary>
    /// <see cref="ChooseNumberOfClusters(ClusteringCatalog, IDataView, int, int, string, int)"/> with every setting of the
    /// trainer (see the overload that also reports progress).
    /// </summary>
    /// <param name="catalog">The clustering catalog.</param>
    /// <param name="data">The data.</param>
    /// <param name="minimum">The smallest K, at least 2.</param>
    /// <param name="maximum">The largest K.</param>
    /// <param name="options">The fits' settings; without a weight column (the indices are unweighted), seeded rather than explicit centroids.</param>
    /// <exception cref="ArgumentOutOfRangeException">A missing or mistyped column, a weight column, bad options or a bad range; the message names it.</exception>
    /// <exception cref="ArgumentException">A NaN or infinite feature, named by row.</exception>
    public static global::FlashKMeans.Selection.ClusterCountReport ChooseNumberOfClusters(this ClusteringCatalog catalog, IDataView data,
        int minimum, int maximum, GpuKMeansTrainer.Options options) =>
        ChooseNumberOfClusters(catalog, data, minimum, maximum, options, null, CancellationToken.None);

    /// <summary>
    /// <see cref="ChooseNumberOfClusters(ClusteringCatalog, IDataView, int, int, string, int)"/> with every setting of the
    /// trainer (device, precision, initialisation, iterations, seed, feature column; its number of clusters is set per K),
    /// told of each K's scores as they come, and cancellable between and inside fits.
    /// </summary>
    /// <param name="catalog">The clustering catalog.</param>
    /// <param name="data">The data.</param>
    /// <param name="minimum">The smallest K, at least 2.</param>
    /// <param name="maximum">The largest K.</param>
    /// <param name="options">The fits' settings; without a weight column (the indices are unweighted), seeded rather than explicit centroids.</param>
    /// <param name="progress">Told after each K: its scores.</param>
    /// <param name="cancellationToken">Stops the reading and the fits.</param>
    /// <exception cref="ArgumentOutOfRangeException">A missing or mistyped column, a weight column, bad options or a bad range; the message names it.</exception>
    /// <exception cref="ArgumentException">A NaN or infinite feature, named by row.</exception>
    public static global::FlashKMeans.Selection.ClusterCountReport ChooseNumberOfClusters(this ClusteringCatalog catalog, IDataView data,
        int minimum, int maximum, GpuKMeansTrainer.Options options, IProgress<global::FlashKMeans.Selection.ClusterCountScore>? progress,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        return new GpuKMeansTrainer(options, MLNetInternals.EnvironmentOf(catalog)).ChooseNumberOfClusters(data, minimum, maximum, progress, cancellationToken);
    }
}

/// <summary>
/// <c>mlContext.MulticlassClassification.Trainers.FlashKMeans(...)</c>: the prototype classifier in ML.NET's multiclass catalog.
/// </summary>
public static class FlashKMeansMulticlassExtensions
{
    /// <summary>
    /// A classifier that condenses each class into a few k-means prototypes and predicts from the nearest ones
    /// (see <see cref="FlashKMeans.Prototypes.PrototypeClassifier"/>).
    /// </summary>
    /// <param name="catalog">The multiclass catalog's trainers.</param>
    /// <param name="options">The settings; they are copied.</param>
    public static PrototypeClassifierTrainer FlashKMeans(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        PrototypeClassifierTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new PrototypeClassifierTrainer(options, MLNetInternals.EnvironmentOf(catalog));
    }
}

/// <summary><c>mlContext.Regression.Trainers.FlashKMeans(...)</c>: the prototype regressor in ML.NET's regression catalog.</summary>
public static class FlashKMeansRegressionExtensions
{
    /// <summary>
    /// A regressor over k-means prototypes that carry targets, predicting from the nearest ones
    /// (see <see cref="FlashKMeans.Prototypes.PrototypeRegressor"/>).
    /// </summary>
    /// <param name="catalog">The regression catalog's trainers.</param>
    /// <param name="options">The settings; they are copied.</param>
    public static PrototypeRegressionTrainer FlashKMeans(this RegressionCatalog.RegressionTrainers catalog, PrototypeRegressionTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new PrototypeRegressionTrainer(options, MLNetInternals.EnvironmentOf(catalog));
    }
}

