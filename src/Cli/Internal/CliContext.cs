using System.CommandLine;
using Spectre.Console;

namespace InputPipeline.Checkpointing.Cli.Internal;

/// <summary>What every command needs: the writers, the environment, and the shared arguments and options.</summary>
internal sealed class CliContext(CliSettings settings)
{
    public CliSettings Settings { get; } = settings;

    public TextWriter Out => Settings.Output;

    public TextWriter Err => Settings.Error;

    public void Warn(string message) => Err.WriteLine("ckpt: warning: " + message);

    /// <summary>Parses a store argument.</summary>
    /// <exception cref="CliException">It is not a path or store URI (exit code 2).</exception>
    public static StoreUri ParseStore(string? text) =>
        StoreUri.TryParse(text, out StoreUri? uri, out string? error) ? uri : throw CliException.BadArguments(error);

    /// <summary>Opens the store <paramref name="text"/> names.</summary>
    public OpenedStore Open(string? text, StoreAccess access, bool mustExist) =>
        StoreFactory.Open(ParseStore(text), access, Settings.GetEnvironmentVariable, mustExist);

    /// <summary>
    /// Runs <paramref name="work"/> with a progress bar over <paramref name="totalBytes"/> when the settings allow one and
    /// the work is large enough; otherwise without. The callback it gets adds bytes done.
    /// </summary>
    public async Task<T> WithProgressAsync<T>(string description, long totalBytes, Func<Action<long>?, Task<T>> work)
    {
        if (!Settings.ShowProgress || totalBytes <= 0 || totalBytes < Settings.ProgressThreshold)
        {
            return await work(null).ConfigureAwait(false);
        }

        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Out) });
        return await console.Progress()
            .AutoClear(false)
            .Columns(
                new TaskDescriptionColumn(),
                new ProgressBarColumn(),
                new PercentageColumn(),
                new DownloadedColumn(),
                new TransferSpeedColumn(),
                new RemainingTimeColumn())
            .StartAsync(async progress =>
            {
                ProgressTask task = progress.AddTask(Markup.Escape(description), autoStart: true, maxValue: totalBytes);
                T result = await work(bytes => task.Increment(bytes)).ConfigureAwait(false);
                task.Value = task.MaxValue;
                return result;
            }).ConfigureAwait(false);
    }
}

/// <summary>The options that say how to reach a store: <c>--endpoint</c>, <c>--region</c>, <c>--connection-string-env</c>, optionally prefixed (<c>--src-endpoint</c>).</summary>
internal sealed class StoreAccessOptions
{
    private StoreAccessOptions(string prefix, string which)
    {
        Endpoint = new Option<Uri?>($"--{prefix}endpoint")
        {
            Description = $"Endpoint of {which}: an S3-compatible service or emulator (path-style addressing), a GCS JSON API endpoint, or an Azure blob service URL.",
            HelpName = "url",
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : string.Empty;
                if (Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
                {
                    return uri;
                }

                result.AddError($"--{prefix}endpoint: \"{text}\" is not an absolute http:// or https:// URL.");
                return null;
            },
        };
        Region = new Option<string?>($"--{prefix}region")
        {
            Description = $"AWS region of {which} (s3:// only); default: the AWS SDK's region chain (AWS_REGION, the profile), or us-east-1 with an endpoint.",
            HelpName = "region",
        };
        ConnectionStringEnv = new Option<string?>($"--{prefix}connection-string-env")
        {
            Description = $"Environment variable holding an Azure Storage connection string for {which} (az:// only); default: {StoreFactory.DefaultAzureConnectionStringVariable} when it is for the URI's account, else DefaultAzureCredential.",
            HelpName = "name",
        };
    }

    public Option<Uri?> Endpoint { get; }

    public Option<string?> Region { get; }

    public Option<string?> ConnectionStringEnv { get; }

    public static StoreAccessOptions Create(Command command, string prefix = "", string which = "the store")
    {
        var options = new StoreAccessOptions(prefix, which);
        command.Options.Add(options.Endpoint);
        command.Options.Add(options.Region);
        command.Options.Add(options.ConnectionStringEnv);
        return options;
    }

    public StoreAccess Get(ParseResult result) =>
        new(result.GetValue(Endpoint), result.GetValue(Region), result.GetValue(ConnectionStringEnv));
}
