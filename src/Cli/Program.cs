// Placeholder entry point; the commands are being written (issue 6).
return 0;
