#include "cli_runner.h"

#include "test_util.h"

#include <cstdio>
#include <sys/wait.h>
#include <vector>

CliRun run_nib(const std::string &args) {
    static int calls = 0;
    std::string errfile = nib_test_temp_path("nib_cli_err." + std::to_string(calls++));
    std::string cmd = std::string("'") + NIB_CLI_PATH + "' " + args + " 2>'" + errfile + "'";
    CliRun r;
    FILE *p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    int st = p ? pclose(p) : -1;
    r.status = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    std::vector<uint8_t> e = nib_test_read_file(errfile);
    r.err.assign(e.begin(), e.end());
    std::remove(errfile.c_str());
    return r;
}
