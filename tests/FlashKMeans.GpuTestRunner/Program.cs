using System.Diagnostics;
using System.Reflection;
using Microsoft.VisualStudio.TestTools.UnitTesting;

// Runs [TestMethod]s of the compiled-in test classes. Arguments: substrings of "Class.Method(data row)" to
// select (all when none); "--category Gpu" keeps only tests of that category (on class or method).
// Exit code: 0 when nothing failed. Inconclusive tests are reported and do not fail the run.
var filters = new List<string>();
string? category = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--category" && i + 1 < args.Length)
        category = args[++i];
    else
        filters.Add(args[i]);
}

int passed = 0, failed = 0, inconclusive = 0;
var failures = new List<string>();
var types = typeof(Program).Assembly.GetTypes()
    .Where(t => !t.IsAbstract && t.GetCustomAttribute<TestClassAttribute>() is not null)
    .OrderBy(t => t.FullName, StringComparer.Ordinal);
foreach (var type in types)
{
    var classCategories = type.GetCustomAttributes<TestCategoryAttribute>().SelectMany(a => a.TestCategories).ToList();
    var methods = type.GetMethods(BindingFlags.Public | BindingFlags.Instance)
        .Where(m => m.GetCustomAttribute<TestMethodAttribute>() is not null)
        .OrderBy(m => m.Name, StringComparer.Ordinal);
    var initialize = type.GetMethods().Where(m => m.GetCustomAttribute<TestInitializeAttribute>() is not null).ToList();
    var cleanup = type.GetMethods().Where(m => m.GetCustomAttribute<TestCleanupAttribute>() is not null).ToList();
    foreach (var method in methods)
    {
        string name = $"{type.Name}.{method.Name}";
        var categories = classCategories.Concat(method.GetCustomAttributes<TestCategoryAttribute>().SelectMany(a => a.TestCategories));
        if (category is not null && !categories.Contains(category, StringComparer.OrdinalIgnoreCase))
            continue;
        var rows = method.GetCustomAttributes<DataRowAttribute>().Select(r => r.Data).ToList();
        if (rows.Count == 0)
            rows.Add([]);
        foreach (var row in rows)
        {
            string label = row.Length == 0 ? name : $"{name}({string.Join(", ", row)})";
            if (filters.Count > 0 && !filters.Any(f => label.Contains(f, StringComparison.Ordinal)))
                continue;  // a filter may name one data row: "Method(Float16, True"
            var clock = Stopwatch.StartNew();
            string outcome;
            try
            {
                object instance = Activator.CreateInstance(type)!;
                try
                {
                    foreach (var m in initialize)
                        m.Invoke(instance, null);
                    var parameters = method.GetParameters();
                    var values = row.Select((v, i) => Convert(v, parameters[i].ParameterType)).ToArray();
                    method.Invoke(instance, values);
                }
                finally
                {
                    foreach (var m in cleanup)
                        m.Invoke(instance, null);
                }
                outcome = "passed";
                passed++;
            }
            catch (Exception e)
            {
                var inner = e is TargetInvocationException { InnerException: { } x } ? x : e;
                if (inner is AssertInconclusiveException)
                {
                    outcome = $"inconclusive: {inner.Message}";
                    inconclusive++;
                }
                else
                {
                    outcome = "FAILED";
                    failed++;
                    failures.Add($"{label}: {inner.GetType().Name}: {inner.Message}\n{inner.StackTrace}");
                }
            }
            Console.WriteLine($"{outcome,-8} {clock.Elapsed.TotalSeconds,7:F2}s  {label}");
        }
    }
}

foreach (string f in failures)
    Console.WriteLine($"\n--- {f}");
Console.WriteLine($"\n{passed} passed, {failed} failed, {inconclusive} inconclusive");
return failed == 0 ? 0 : 1;

static object? Convert(object? value, Type target)
{
    if (value is null || target.IsInstanceOfType(value))
        return value;
    if (target.IsEnum)
        return Enum.ToObject(target, value);
    return System.Convert.ChangeType(value, target, System.Globalization.CultureInfo.InvariantCulture);
}

internal partial class Program;
