using System.Diagnostics;
using FlashKMeans.Clustering;

namespace FlashKMeans.MLNet.Tests;

/// <summary>
/// The flashkmeans tool run as a user runs it: a fit that writes its pictures (PNG files of the stated size that are
/// not blank), a K sweep that proposes the number of generated blobs, raw and .npy files read whole, bad arguments
/// answered by one line and exit code 2, never a stack trace, and in a real terminal (tmux) live bars and a summary table.
/// </summary>
[TestClass]
public sealed class CliTests
{
    /// <summary>The tool as this build made it (the test project builds it first).</summary>
    private static string Tool()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory);  // tests/FlashKMeans.MLNet.Tests/bin/<configuration>/<framework>/
        var root = here.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        string cli = Path.Combine(root, "src", "FlashKMeans.Tool", "bin", here.Parent!.Name, here.Name, "FlashKMeans.Tool.dll");
        Assert.IsTrue(File.Exists(cli), $"{cli} is missing: build the solution.");
        return cli;
    }

    private static (int Code, string Output, string Errors) Run(params string[] arguments)
    {
        string cli = Tool();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(cli);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        Assert.IsTrue(process.WaitForExit(120_000), "the CLI did not finish in 2 minutes");
        return (process.ExitCode, output.Result, errors.Result);
    }

    /// <summary>Width and height from a PNG's header chunk.</summary>
    private static (int Width, int Height) PngSize(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.IsTrue(bytes.AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }), $"{path} is not a PNG");
        int Big(int at) => (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
        return (Big(16), Big(20));
    }

    [TestMethod]
    public void A_fit_writes_pictures_and_a_sweep_proposes_the_blobs()
    {
        string folder = Path.Combine(Path.GetTempPath(), "flashkmeans-cli-" + Guid.NewGuid().ToString("N"));
        try
        {
            var (code, output, errors) = Run("fit", "--rows", "20000", "--dimension", "6", "--clusters", "5", "--device", "Cpu", "--seed", "2", "--plot", folder);
            Assert.AreEqual(0, code, errors);
            // Not a terminal: plain lines, the validation pass's last one with every row read.
            Assert.IsTrue(System.Text.RegularExpressions.Regex.IsMatch(output, @"validation\s+20,000 rows"), output);
            foreach (var name in new[] { "projection.png", "inertia.png", "sizes.png" })
            {
                string path = Path.Combine(folder, name);
                Assert.IsTrue(output.Contains(path, StringComparison.Ordinal), $"{name} is announced");
                Assert.AreEqual((900, 600), PngSize(path), name);
                // A blank 900 × 600 picture compresses to a few kilobytes; points, bars and text do not.
                Assert.IsTrue(new FileInfo(path).Length > 10_000, $"{name} looks blank ({new FileInfo(path).Length} bytes)");
            }

            (code, output, errors) = Run("choose-k", "--rows", "20000", "--dimension", "6", "--blobs", "5", "--device", "Cpu", "--seed", "2", "--range", "2:8", "--plot", folder);
            Assert.AreEqual(0, code, errors);
            StringAssert.Contains(output, "Proposed K     5");
            Assert.AreEqual((900, 600), PngSize(Path.Combine(folder, "elbow.png")));
        }
        finally
        {
            if (Directory.Exists(folder))
                Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void In_a_terminal_a_fit_shows_live_bars_and_ends_with_a_table()
    {
        if (!File.Exists("/usr/bin/tmux"))
            Assert.Inconclusive("tmux is not installed: .ci/run installs it where it can.");
        string cli = Tool();
        string session = "flashkmeans-" + Guid.NewGuid().ToString("N")[..8];
        string Tmux(params string[] arguments)
        {
            var start = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in arguments)
                start.ArgumentList.Add(argument);
            using var process = Process.Start(start)!;
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return output;
        }
        try
        {
            // A fit long enough to be watched: 1M × 32, K = 256, 25 iterations (several seconds on two cores).
            Tmux("new-session", "-d", "-s", session, "-x", "130", "-y", "40",
                $"dotnet {cli} fit --rows 1000000 --dimension 32 --clusters 256 --iterations 25 --tolerance 0 --device Cpu; sleep 60");
            bool sawBarsMidway = false;
            string screen = "";
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(120))
            {
                Thread.Sleep(250);
                screen = Tmux("capture-pane", "-p", "-t", session);
                // A bar during the iterations: the inertia in its description, and less than 100 % done.
                sawBarsMidway |= System.Text.RegularExpressions.Regex.IsMatch(screen, @"Iterations \(inertia [^)]*\).*━.*\b([0-9]|[1-9][0-9])%");
                if (screen.Contains("Total time", StringComparison.Ordinal))
                    break;
            }
            Assert.IsTrue(sawBarsMidway, "no iteration bar was seen while the fit ran; last screen:\n" + screen);
            // The validation pass has its bar too, which ends with every row read and the rate it read them at.
            Assert.IsTrue(System.Text.RegularExpressions.Regex.IsMatch(screen, @"Validation pass \(1,000,000 rows, [0-9.]+ GB/s\).*100%"),
                "no finished validation bar; last screen:\n" + screen);
            Assert.IsTrue(System.Text.RegularExpressions.Regex.IsMatch(screen, @"Iterations \(inertia [^)]*GB/s a pass\)"), screen);
            StringAssert.Contains(screen, "│ Backend", "the summary is a table");
            StringAssert.Contains(screen, "│ Inertia");
        }
        finally
        {
            Tmux("kill-session", "-t", session);
        }
    }

    [TestMethod]
    public void Raw_and_npy_files_are_read_whole()
    {
        const int n = 3000, d = 5;
        var (rows, _) = Blobs.Make(n, d, centers: 3, spread: 10, seed: 1);
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows.AsSpan()).ToArray();
        string raw = Path.GetTempFileName(), npy = Path.ChangeExtension(Path.GetTempFileName(), ".npy");
        try
        {
            File.WriteAllBytes(raw, bytes);
            // NumPy's format 1.0: magic, version, header length, a dict padded with spaces to a multiple of 64 bytes.
            string header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {d}), }}";
            header = header.PadRight(64 * ((10 + header.Length + 1 + 63) / 64) - 10 - 1) + "\n";
            using (var file = File.Create(npy))
            {
                file.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
                file.Write(BitConverter.GetBytes((ushort)header.Length));
                file.Write(System.Text.Encoding.Latin1.GetBytes(header));
                file.Write(bytes);
            }
            foreach (var arguments in new[] { new[] { "--input", raw, "--dimension", $"{d}" }, new[] { "--input", npy } })
            {
                var (code, output, errors) = Run(["fit", .. arguments, "--clusters", "3", "--device", "Cpu"]);
                Assert.AreEqual(0, code, errors);
                StringAssert.Contains(output, $"Read {n:N0} rows × {d}", string.Join(" ", arguments));
            }
        }
        finally
        {
            File.Delete(raw);
            File.Delete(npy);
        }
    }

    /// <summary>
    /// A file of 200 rows whose height and weight (columns 2 and 3) form two groups of 100: chosen by name or number,
    /// the fit finds the groups; an unknown column is an error that lists <paramref name="header"/>.
    /// </summary>
    private static void AssertColumnsChosen(string file, string header)
    {
        foreach (var columns in new[] { "height,weight", "2,3" })
        {
            var (code, output, errors) = Run("fit", "--input", file, "--columns", columns, "--clusters", "2", "--device", "Cpu");
            Assert.AreEqual(0, code, errors);
            StringAssert.Contains(output, "Read 200 rows × 2");
            StringAssert.Contains(output, "Clusters       2 (sizes 100 to 100)", "the two groups of rows are found");
        }
        var (badCode, _, badErrors) = Run("fit", "--input", file, "--columns", "age", "--clusters", "2");
        Assert.AreEqual(2, badCode);
        StringAssert.Contains(badErrors, $"no column 'age'; the header has {header}");
    }

    [TestMethod]
    public void Csv_columns_are_chosen_by_header_name_or_number()
    {
        string csv = Path.ChangeExtension(Path.GetTempFileName(), ".csv");
        try
        {
            var random = new Random(5);
            var lines = new List<string> { "id,height,weight,name" };
            for (int r = 0; r < 200; r++)
                lines.Add($"{r},{(r % 2 == 0 ? 1.6 : 1.9) + 0.01 * random.NextDouble():F3},{(r % 2 == 0 ? 60 : 90) + random.NextDouble():F2},n{r}");
            File.WriteAllLines(csv, lines);
            AssertColumnsChosen(csv, "id, height, weight, name");
        }
        finally
        {
            File.Delete(csv);
        }
    }

    [TestMethod]
    public void Bad_arguments_get_one_line_and_exit_code_2()
    {
        string raw = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(raw, new byte[64]);
            foreach (var (arguments, expected) in new (string[], string)[]
            {
                (["fit", "--input", raw], "need --dimension"),
                (["fit", "--input", raw + ".missing.csv"], "Could not find file"),
                (["fit", "--init", "Explicit", "--rows", "100"], "--centroids"),
                (["choose-k", "--rows", "100", "--range", "five"], "MIN:MAX"),
                (["choose-k", "--rows", "100", "--range", "1:4"], "at least 2"),
                (["predict", "--model", raw + ".missing.fkm", "--input", raw], "Could not find file"),
            })
            {
                var (code, _, errors) = Run(arguments);
                Assert.AreEqual(2, code, string.Join(" ", arguments) + ": " + errors);
                StringAssert.Contains(errors, expected, string.Join(" ", arguments));
                Assert.IsFalse(errors.Contains("   at ", StringComparison.Ordinal), $"a stack trace for {string.Join(" ", arguments)}:\n{errors}");
                Assert.AreEqual(1, errors.Trim().Split('\n').Length, $"one line for {string.Join(" ", arguments)}:\n{errors}");
            }
        }
        finally
        {
            File.Delete(raw);
        }
    }

    [TestMethod]
    public void Fit_writes_model_labels_and_summary_and_predict_gives_the_same_labels()
    {
        string folder = Path.Combine(Path.GetTempPath(), "flashkmeans-tool-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            const int n = 4000, d = 4;
            var (rows, _) = Blobs.Make(n, d, centers: 4, spread: 12, seed: 9);
            string data = Path.Combine(folder, "rows.f32"), model = Path.Combine(folder, "model.fkm");
            string labels = Path.Combine(folder, "labels.csv"), summary = Path.Combine(folder, "summary.json"), predicted = Path.Combine(folder, "predicted.csv");
            File.WriteAllBytes(data, System.Runtime.InteropServices.MemoryMarshal.AsBytes(rows.AsSpan()).ToArray());
            var (code, _, errors) = Run("fit", "--input", data, "--dimension", $"{d}", "--clusters", "4", "--device", "Cpu",
                "--save", model, "--labels", labels, "--summary", summary);
            Assert.AreEqual(0, code, errors);

            // The summary is JSON whose numbers agree with the model file and the labels.
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(summary));
            var root = json.RootElement;
            var saved = KMeansModel.Load(model);
            Assert.AreEqual(n, root.GetProperty("rows").GetInt64());
            Assert.AreEqual(saved.Inertia, root.GetProperty("inertia").GetDouble());
            Assert.AreEqual(saved.Iterations, root.GetProperty("iterations").GetInt32());
            var fitLabels = File.ReadAllLines(labels).Skip(1).Select(l => int.Parse(l.Split(',')[0])).ToArray();
            var sizes = root.GetProperty("clusterSizes").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            for (int c = 0; c < 4; c++)
                Assert.AreEqual(fitLabels.Count(l => l == c), sizes[c], $"cluster {c}'s size");

            // Each label is the nearest centroid of the saved model (a brute force here), and predict agrees.
            var centroids = saved.Centroids.ToArray();
            for (int r = 0; r < n; r++)
            {
                int best = 0;
                double bestDistance = double.MaxValue;
                for (int c = 0; c < 4; c++)
                {
                    double s = 0;
                    for (int f = 0; f < d; f++)
                        s += Math.Pow(rows[r * d + f] - centroids[c * d + f], 2);
                    if (s < bestDistance)
                        (best, bestDistance) = (c, s);
                }
                Assert.AreEqual(best, fitLabels[r], $"row {r}");
            }
            (code, _, errors) = Run("predict", "--model", model, "--input", data, "--dimension", $"{d}", "--device", "Cpu", "--output", predicted);
            Assert.AreEqual(0, code, errors);
            CollectionAssert.AreEqual(File.ReadAllLines(labels), File.ReadAllLines(predicted));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [TestMethod]
    public void Info_names_the_backend_a_fit_would_use_and_why()
    {
        var (code, output, errors) = Run("info");
        Assert.AreEqual(0, code, errors);
        StringAssert.Contains(output, "flashkmeans ");
        // The tool carries the ILGPU backend: its CPU accelerator at least is always there.
        StringAssert.Contains(output, "ILGPU          ilgpu (");
        // On a machine without a GPU the engine says the CPU is used and why; with one, that the CUDA device is.
        Assert.IsTrue(output.Contains("Device (Auto)  using cpu", StringComparison.Ordinal) && output.Contains("because", StringComparison.Ordinal)
                      || output.Contains("Device (Auto)  using cuda", StringComparison.Ordinal), output);
    }

    [TestMethod]
    public void Parquet_files_are_read_by_column_name_or_every_numeric_column()
    {
        string file = Path.ChangeExtension(Path.GetTempFileName(), ".parquet");
        try
        {
            // Two row groups of 100 rows: an int id, two measurements in two groups (double and float), a name.
            var id = new Parquet.Schema.DataField<int>("id");
            var height = new Parquet.Schema.DataField<double>("height");
            var weight = new Parquet.Schema.DataField<float>("weight");
            var name = new Parquet.Schema.DataField<string>("name");
            var random = new Random(3);
            using (var stream = File.Create(file))
            {
                var writer = Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(id, height, weight, name), stream).GetAwaiter().GetResult();
                for (int g = 0; g < 2; g++)
                {
                    using var group = writer.CreateRowGroup();
                    var rows = Enumerable.Range(g * 100, 100).ToArray();
                    group.WriteAsync<int>(id, rows.AsMemory()).GetAwaiter().GetResult();
                    group.WriteAsync<double>(height, rows.Select(r => (r % 2 == 0 ? 1.6 : 1.9) + 0.01 * random.NextDouble()).ToArray().AsMemory()).GetAwaiter().GetResult();
                    group.WriteAsync<float>(weight, rows.Select(r => (float)((r % 2 == 0 ? 60 : 90) + random.NextDouble())).ToArray().AsMemory()).GetAwaiter().GetResult();
                    group.WriteAsync(name, rows.Select(r => $"n{r}").ToArray()).GetAwaiter().GetResult();
                }
                writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            AssertColumnsChosen(file, "id, height, weight");
            var (allCode, allOutput, allErrors) = Run("fit", "--input", file, "--clusters", "2", "--device", "Cpu");
            Assert.AreEqual(0, allCode, allErrors);
            StringAssert.Contains(allOutput, "Read 200 rows × 3", "every numeric column: id, height, weight");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [TestMethod]
    public void Hierarchical_fits_report_their_balance()
    {
        var (code, output, errors) = Run("fit", "--rows", "20000", "--dimension", "4", "--clusters", "16", "--blobs", "5", "--device", "Cpu", "--hierarchical", "--balance", "1.4");
        Assert.AreEqual(0, code, errors);
        var line = output.Split('\n').Single(l => l.StartsWith("Balance", StringComparison.Ordinal));
        StringAssert.Contains(line, "4 mesoclusters");
        double after = double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[4], System.Globalization.CultureInfo.InvariantCulture);
        Assert.IsTrue(after <= 1.4, line);
    }

    [TestMethod]
    public void Size_limits_are_met_by_the_written_labels()
    {
        string labels = Path.GetTempFileName();
        try
        {
            var (code, output, errors) = Run("fit", "--rows", "3000", "--dimension", "3", "--clusters", "6", "--blobs", "2", "--device", "Cpu",
                "--min-size", "450", "--max-size", "550", "--labels", labels);
            Assert.AreEqual(0, code, errors);
            var sizes = File.ReadAllLines(labels).Skip(1).GroupBy(l => l.Split(',')[0]).Select(g => g.Count()).ToArray();
            Assert.AreEqual(6, sizes.Length);
            Assert.IsTrue(sizes.All(s => s >= 450 && s <= 550), string.Join(",", sizes));
            (code, _, errors) = Run("fit", "--rows", "3000", "--clusters", "6", "--max-size", "400", "--device", "Cpu");
            Assert.AreEqual(2, code);
            StringAssert.Contains(errors, "cannot hold 3000 rows");
        }
        finally
        {
            File.Delete(labels);
        }
    }
}
