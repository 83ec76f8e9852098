using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;

namespace FlashKMeans.MLNet;

/// <summary>
/// Every place where the plugin reaches past ML.NET's public API, gathered in one file so that a new ML.NET
/// version that moves these members breaks in one place, with a message that says which member moved.
/// </summary>
/// <remarks>
/// <para>ML.NET 5.0 keeps three things a third-party trainer needs behind <c>[BestFriend] internal</c>:</para>
/// <list type="number">
/// <item><c>SchemaShape.Column</c>'s constructor, without which <see cref="IEstimator{TTransformer}.GetOutputSchema"/>
/// cannot describe a new column;</item>
/// <item>the catalogs' <c>IHostEnvironment</c>, which carries log lines to <c>MLContext.Log</c>;</item>
/// <item>the constructors of <see cref="KMeansModelParameters"/> and
/// <see cref="ClusteringPredictionTransformer{TModel}"/>, the only route to a model zip that loads without this
/// package (<c>ModelSaveContext</c> has no public members and <c>LoadableClass</c> is internal);</item>
/// <item>the constructors of the linear models and their regression and multiclass prediction transformers, which turn
/// a portable prototype model's one-value and per-class score vectors into the scalar <c>Score</c> and the key-typed
/// <c>PredictedLabel</c> that ML.NET's evaluators read (ONNX scoring in ML.NET returns vectors only).</item>
/// </list>
/// <para>Each is looked up by exact signature, the same in ML.NET 5.0.1 and 6.0.0 (both tested).</para>
/// </remarks>
internal static class MLNetInternals
{
    private const BindingFlags Hidden = BindingFlags.Instance | BindingFlags.NonPublic;

    private static readonly Lazy<ConstructorInfo> s_shapeColumn = new(() => Find(typeof(SchemaShape.Column),
        [typeof(string), typeof(SchemaShape.Column.VectorKind), typeof(DataViewType), typeof(bool), typeof(SchemaShape)],
        "SchemaShape.Column(string, VectorKind, DataViewType, bool, SchemaShape)"));

    private static readonly Lazy<ConstructorInfo> s_kmeansParameters = new(() => Find(typeof(KMeansModelParameters),
        [typeof(IHostEnvironment), typeof(int), typeof(VBuffer<float>[]), typeof(bool)],
        "KMeansModelParameters(IHostEnvironment, int, VBuffer<float>[], bool)"));

    private static readonly Lazy<ConstructorInfo> s_clusteringTransformer = new(() => Find(
        typeof(ClusteringPredictionTransformer<KMeansModelParameters>),
        [typeof(IHostEnvironment), typeof(KMeansModelParameters), typeof(DataViewSchema), typeof(string), typeof(float), typeof(string)],
        "ClusteringPredictionTransformer<KMeansModelParameters>(IHostEnvironment, KMeansModelParameters, DataViewSchema, string, float, string)"));

    private static readonly Lazy<ConstructorInfo> s_linearRegression = new(() => Find(typeof(LinearRegressionModelParameters),
        [typeof(IHostEnvironment), typeof(VBuffer<float>).MakeByRefType(), typeof(float)],
        "LinearRegressionModelParameters(IHostEnvironment, in VBuffer<float>, float)"));

    private static readonly Lazy<ConstructorInfo> s_linearMulticlass = new(() => Find(typeof(LinearMulticlassModelParameters),
        [typeof(IHostEnvironment), typeof(VBuffer<float>[]), typeof(float[]), typeof(int), typeof(int), typeof(string[]), typeof(ModelStatisticsBase)],
        "LinearMulticlassModelParameters(IHostEnvironment, VBuffer<float>[], float[], int, int, string[], ModelStatisticsBase)"));

    private static readonly Lazy<ConstructorInfo> s_regressionTransformer = new(() => Find(
        typeof(RegressionPredictionTransformer<LinearRegressionModelParameters>),
        [typeof(IHostEnvironment), typeof(LinearRegressionModelParameters), typeof(DataViewSchema), typeof(string)],
        "RegressionPredictionTransformer<LinearRegressionModelParameters>(IHostEnvironment, LinearRegressionModelParameters, DataViewSchema, string)"));

    private static readonly Lazy<ConstructorInfo> s_multiclassTransformer = new(() => Find(
        typeof(MulticlassPredictionTransformer<LinearMulticlassModelParameters>),
        [typeof(IHostEnvironment), typeof(LinearMulticlassModelParameters), typeof(DataViewSchema), typeof(string), typeof(string), typeof(string), typeof(string)],
        "MulticlassPredictionTransformer<LinearMulticlassModelParameters>(IHostEnvironment, LinearMulticlassModelParameters, DataViewSchema, string, string, string, string)"));

    /// <summary>
    /// ML.NET's regression transformer whose <c>Score</c> is the single value of <paramref name="featureColumnName"/>, a
    /// vector of one Single: a linear model of weight 1 and bias 0, which returns the value exactly.
    /// </summary>
    public static ITransformer CreatePassThroughRegression(IHostEnvironment env, DataViewSchema inputSchema, string featureColumnName)
    {
        var weights = new VBuffer<float>(1, [1f]);
        var model = (LinearRegressionModelParameters)Invoke(s_linearRegression.Value, env, weights, 0f);
        return (ITransformer)Invoke(s_regressionTransformer.Value, env, model, inputSchema, featureColumnName);
    }

    /// <summary>
    /// ML.NET's multiclass transformer whose <c>Score</c> is <paramref name="featureColumnName"/> (C Singles) as it is (an
    /// identity linear model, exact) and whose <c>PredictedLabel</c> is the key of the largest score, of the type and
    /// values of <paramref name="labelColumnName"/> in <paramref name="inputSchema"/>.
    /// </summary>
    public static ITransformer CreatePassThroughMulticlass(IHostEnvironment env, DataViewSchema inputSchema, string featureColumnName, string labelColumnName, int classes)
    {
        var weights = Enumerable.Range(0, classes).Select(c => new VBuffer<float>(classes, 1, [1f], [c])).ToArray();
        var model = (LinearMulticlassModelParameters)Invoke(s_linearMulticlass.Value, env, weights, new float[classes], classes, classes, null!, null!);
        return (ITransformer)Invoke(s_multiclassTransformer.Value, env, model, inputSchema, featureColumnName, labelColumnName, "Score", "PredictedLabel");
    }

    /// <summary>A schema-shape column, as ML.NET's own estimators describe their outputs.</summary>
    public static SchemaShape.Column ShapeColumn(string name, SchemaShape.Column.VectorKind kind, DataViewType itemType, bool isKey,
        SchemaShape? annotations = null)
        => (SchemaShape.Column)Invoke(s_shapeColumn.Value, name, kind, itemType, isKey, annotations!);

    /// <summary>ML.NET's own KMeans model parameters holding exactly these centroids, in this order.</summary>
    /// <param name="env">Any ML.NET environment; <see cref="MLContext"/> is one.</param>
    /// <param name="centroids">K × d, row-major.</param>
    /// <param name="k">K.</param>
    /// <param name="dimension">d.</param>
    public static KMeansModelParameters CreateKMeansParameters(IHostEnvironment env, ReadOnlySpan<float> centroids, int k, int dimension)
    {
        var vectors = new VBuffer<float>[k];
        for (int c = 0; c < k; c++)
            vectors[c] = new VBuffer<float>(dimension, centroids.Slice(c * dimension, dimension).ToArray());
        return (KMeansModelParameters)Invoke(s_kmeansParameters.Value, env, k, vectors, false);
    }

    /// <summary>ML.NET's clustering transformer over <paramref name="model"/>, exactly what <c>KMeansTrainer.Fit</c> returns.</summary>
    /// <param name="env">Any ML.NET environment.</param>
    /// <param name="model">The model parameters.</param>
    /// <param name="trainSchema">A schema that contains the feature column; it is saved in the zip.</param>
    /// <param name="featureColumnName">The feature column.</param>
    public static ClusteringPredictionTransformer<KMeansModelParameters> CreateClusteringTransformer(IHostEnvironment env,
        KMeansModelParameters model, DataViewSchema trainSchema, string featureColumnName)
        // threshold and thresholdColumn are ML.NET's defaults (0, "Score"); clustering ignores them.
        => (ClusteringPredictionTransformer<KMeansModelParameters>)Invoke(s_clusteringTransformer.Value,
            env, model, trainSchema, featureColumnName, 0f, "Score");

    /// <summary>
    /// The environment behind a catalog (<c>TrainCatalogBase.Environment</c> reached through
    /// <c>CatalogInstantiatorBase.Owner</c>), or <c>null</c> where ML.NET moved them; only logging depends on it.
    /// Typed as <see cref="object"/> so that no ML.NET type layout is assumed at compile time either.
    /// </summary>
    public static IHostEnvironment? EnvironmentOf(object? catalog)
    {
        if (catalog is null)
            return null;
        try
        {
            // ML.NET 5.0: CatalogInstantiatorBase.Owner (TrainCatalogBase) → TrainCatalogBase.Environment. Any member
            // holding an IHostEnvironment is accepted, so a renamed member or a field still works.
            return HostOf(catalog) ?? (Member(catalog, "Owner") is { } owner ? HostOf(owner) : null);
        }
        catch (Exception e) when (e is TargetInvocationException or MemberAccessException)
        {
            return null;
        }
    }

    [UnconditionalSuppressMessage("Trimming", "IL2075",
        Justification = "Only log lines depend on it: if trimming removed the member, the trainer logs nothing and works the same.")]
    private static IHostEnvironment? HostOf(object target)
    {
        for (var type = target.GetType(); type is not null; type = type.BaseType)
        {
            const BindingFlags flags = Hidden | BindingFlags.Public | BindingFlags.DeclaredOnly;
            foreach (var property in type.GetProperties(flags))
            {
                if (typeof(IHostEnvironment).IsAssignableFrom(property.PropertyType) && property.GetIndexParameters().Length == 0
                    && property.GetValue(target) is IHostEnvironment env)
                    return env;
            }
            foreach (var field in type.GetFields(flags))
            {
                if (typeof(IHostEnvironment).IsAssignableFrom(field.FieldType) && field.GetValue(target) is IHostEnvironment env)
                    return env;
            }
        }
        return null;
    }

    [UnconditionalSuppressMessage("Trimming", "IL2075",
        Justification = "Only log lines depend on it: if trimming removed the member, the trainer logs nothing and works the same.")]
    private static object? Member(object target, string name)
    {
        for (var type = target.GetType(); type is not null; type = type.BaseType)
        {
            const BindingFlags flags = Hidden | BindingFlags.Public | BindingFlags.DeclaredOnly;
            if (type.GetProperty(name, flags) is { } property)
                return property.GetValue(target);
            if (type.GetField(name, flags) is { } field)
                return field.GetValue(target);
        }
        return null;
    }

    private static ConstructorInfo Find(
        [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors | DynamicallyAccessedMemberTypes.NonPublicConstructors)] Type type,
        Type[] parameters, string signature)
        => type.GetConstructor(Hidden | BindingFlags.Public, binder: null, parameters, modifiers: null)
            ?? throw new MissingMethodException(
                $"FlashKMeans.MLNet needs ML.NET's internal constructor {signature}, which this version of " +
                $"{type.Assembly.GetName().Name} ({type.Assembly.GetName().Version}) does not have. FlashKMeans.MLNet is built for Microsoft.ML 5.0.");

    private static object Invoke(ConstructorInfo constructor, params object[] arguments)
    {
        try
        {
            return constructor.Invoke(arguments);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            // Surface ML.NET's own argument errors rather than the reflection wrapper.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}
