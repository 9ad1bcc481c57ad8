// Standalone entry point: `dotnet run --project tests/GcsEmulator -- --urls http://127.0.0.1:PORT`.
return await GcsEmulator.GcsEmulatorServer.RunStandaloneAsync(args);
