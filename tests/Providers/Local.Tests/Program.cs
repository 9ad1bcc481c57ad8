using System.Globalization;

namespace InputPipeline.Checkpointing.Local.Tests;

/// <summary>
/// The test assembly's entry point. The test runner never calls it; the crash-consistency test starts the assembly
/// as a child process (<c>dotnet exec</c>) to run <see cref="CrashWriter"/> and kills it with SIGKILL.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is [CrashWriter.Command, string root, string seed])
        {
            await CrashWriter.RunAsync(root, int.Parse(seed, CultureInfo.InvariantCulture));
            return 0;
        }

        await Console.Error.WriteLineAsync($"This is a test assembly; run it with 'dotnet test'. '{CrashWriter.Command} <root> <seed>' runs the crash writer.");
        return 2;
    }
}
