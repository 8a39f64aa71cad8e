/*
 * cli_runner.h — runs the built `nib` binary (NIB_CLI_PATH) with arguments
 * through the shell and captures its exit status, stdout and stderr.
 */
#ifndef NIB_TEST_CLI_RUNNER_H
#define NIB_TEST_CLI_RUNNER_H

#include <string>

struct CliRun {
    int status;
    std::string out, err;
};

/* args are pasted into a shell command line: quote paths with '...'. */
CliRun run_nib(const std::string &args);

#endif
