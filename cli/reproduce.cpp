// `taper reproduce --scale S [--only NAME,...] [--seeds N] [--jobs N | --shard K/N] [--check | --plan | --claims]`.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "taper/reproduce.h"
#include "taper/result_tables.h"

namespace taper::cli {

const char kReproduceHelp[] =
    "usage: taper reproduce --scale SCALE [--only NAME,...] [--seeds N] [--check | --plan | --claims]\n"
    "                       [--jobs N | --shard K/N [--claim-dir DIR] | --no-train]\n"
    "                       [--device cpu|cuda] [--tf32]\n\n"
    "Runs the paper's tables and figures as experiments/SCALE/NAME.toml describe them\n"
    "(SCALE: tiny, mini, gpu, paper), across seeds, sharing runs and stage checkpoints\n"
    "between rows, resuming interrupted runs (runs/SCALE/), and writes\n"
    "results/SCALE/NAME.{md,csv,json}: mean +- std per row, the paper's value, a verdict\n"
    "per claim, and the command, commit, seeds, machine and wall time.\n"
    "At every scale but tiny, each finished run is also recorded without its\n"
    "checkpoints in results/SCALE/runs/RUN/ (the ledger: config, epoch log, evaluations,\n"
    "analyses, and the commit, date and machine that trained it; commit it), and a\n"
    "fresh clone restores those records into runs/SCALE/: finished runs are not\n"
    "trained again, unless a row asks for an evaluation their record lacks.\n\n"
    "  --only NAME,...  just these experiments (default: every file of the scale)\n"
    "  --seeds N        seeds per row (default: each file's own)\n"
    "  --jobs N         train in N processes at once, each with cores/N OpenMP threads,\n"
    "                   each taking the next untaken group of runs (those sharing a\n"
    "                   checkpoint, costliest first: epochs x images x multiply-adds,\n"
    "                   so that no costly group is left for last) when it is free\n"
    "                   (two one-thread ResNet-8 trainings outrun one two-thread one on\n"
    "                   2 cores: results/perf/mini_plan.txt), their output in\n"
    "                   runs/SCALE/shard-K.log, then evaluate and write the results here.\n"
    "                   The numbers are those of --jobs 1: kernels do not depend on the\n"
    "                   thread count. Killing this process (TERM, INT, HUP) stops the\n"
    "                   shards too; each keeps the epochs it finished\n"
    "  --shard K/N      train and evaluate only shard K (0 to N-1) of the runs, in groups\n"
    "                   sharing checkpoints; write no results (what --jobs runs)\n"
    "  --claim-dir DIR  with --shard: instead of a fixed share, take each group not yet\n"
    "                   claimed by a file in DIR (how --jobs's processes share the work)\n"
    "  --no-train       write the results of the experiments whose runs are all trained\n"
    "                   (say, by --shard processes still busy with others); skip the rest\n"
    "  --device DEV     where runs train and evaluate: cpu (default) or cuda; fails at\n"
    "                   once with 'no CUDA device' without a GPU\n"
    "  --tf32           let the GPU use TF32 for FP32 GEMM and convolution (faster,\n"
    "                   about 3 decimal digits; off by default)\n"
    "  --check          regression mode (`make regress`): run into build/regress/ and\n"
    "                   compare every row with the committed results/SCALE/NAME.json\n"
    "                   within the file's tolerance; exit 1 on any difference, and\n"
    "                   on an experiment that could not run (no text model, say)\n"
    "  --plan           check every experiment file and print, per experiment, its\n"
    "                   rows and the runs they need (finished, or to train), then the\n"
    "                   distinct trainings the unfinished runs still need once shared\n"
    "                   checkpoints are trained once (epochs per network, and hours at\n"
    "                   the fastest epochs the scale's run logs measured), and the groups\n"
    "                   --jobs takes in order, with each one's share of the cost; trains nothing\n"
    "  --claims         print every claim of results/SCALE/*.json as one Markdown table\n"
    "                   (the paper's numbers, ours, the verdict, the command); trains nothing\n";

namespace {

// "K/N" with 0 <= K < N.
std::pair<int64_t, int64_t> parse_shard(const std::string& text) {
  int64_t k = -1, n = 0;
  char slash = 0, rest = 0;
  if (std::sscanf(text.c_str(), "%" SCNd64 "%c%" SCNd64 "%c", &k, &slash, &n, &rest) != 3 || slash != '/' || k < 0 || k >= n) {
    throw std::invalid_argument("--shard: expected K/N with 0 <= K < N, got '" + text + "'");
  }
  return {k, n};
}

std::string shard_log(const std::filesystem::path& logs, int64_t k) {
  return (logs / ("shard-" + std::to_string(k) + ".log")).string();
}

// Pointers into `strings` ending in nullptr, as exec wants argv and envp.
std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts this program with `args` and `env`, its stdout and stderr appended to `log`.
pid_t spawn_logged(std::vector<std::string> args, std::vector<std::string> env, const std::string& log) {
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  posix_spawn_file_actions_addopen(&files, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&files, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, "/proc/self/exe", &files, nullptr, c_strings(args).data(), c_strings(env).data());
  posix_spawn_file_actions_destroy(&files);
  if (err != 0) throw std::runtime_error("--jobs: could not start " + log + "'s process: " + std::strerror(err));
  return pid;
}

// The running shards, for stop_shards: a kill of `taper reproduce --jobs N`
// (SIGTERM, SIGINT, SIGHUP) reaches its shards too, instead of leaving them
// training with no parent and no one to write the results. A stopped shard
// keeps every epoch it finished (checkpoints are written after each).
constexpr int64_t kMaxJobs = 64;
pid_t shard_pids[kMaxJobs];
volatile sig_atomic_t shard_count = 0;

extern "C" void stop_shards(int sig) {
  for (sig_atomic_t k = 0; k < shard_count; ++k) kill(shard_pids[k], SIGTERM);
  signal(sig, SIG_DFL);
  raise(sig);
}

void forward_stop_signals() {
  struct sigaction action {};
  action.sa_handler = stop_shards;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &action, nullptr);
}

// Until every shard has ended, prints each "reproduce: shard" line (a run
// started) from the new part of its log; returns the logs of those that failed.
std::string follow_shards(const std::vector<pid_t>& children, const std::filesystem::path& logs) {
  const size_t jobs = children.size();
  std::vector<std::streamoff> read(jobs, 0);
  std::vector<bool> running(jobs, true);
  std::string failed;
  for (size_t live = jobs; live > 0;) {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    for (size_t k = 0; k < jobs; ++k) {
      std::ifstream in(shard_log(logs, k));
      in.seekg(read[k]);
      for (std::string line; std::getline(in, line) && !in.eof();) {
        read[k] += static_cast<std::streamoff>(line.size() + 1);
        // The child's buffered stdout may end in the middle of a line before it.
        const size_t at = line.find("reproduce: shard");
        if (at != std::string::npos) std::fprintf(stderr, "%s\n", line.c_str() + at);
      }
      int status = 0;
      if (!running[k] || waitpid(children[k], &status, WNOHANG) != children[k]) continue;
      running[k] = false;
      --live;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed += (failed.empty() ? "" : ", ") + shard_log(logs, k);
    }
  }
  return failed;
}

// Runs `taper reproduce` (argv, without --jobs) once per shard, all at once,
// each with its share of the cores and its output in logs/shard-K.log, the
// shards claiming groups in logs/.claims-PID; throws naming the shards that
// failed, once all have ended.
void train_in_processes(int argc, char** argv, int64_t jobs, const std::filesystem::path& logs) {
  const int64_t threads = std::max<int64_t>(1, std::thread::hardware_concurrency() / jobs);
  std::vector<std::string> env{"OMP_NUM_THREADS=" + std::to_string(threads)};
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "OMP_NUM_THREADS=", 16) != 0) env.push_back(*e);
  }
  std::vector<std::string> args{"/proc/self/exe"};
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--jobs") == 0) {
      ++i;  // and its value
      continue;
    }
    args.push_back(argv[i]);
  }
  std::filesystem::create_directories(logs);
  // This invocation's own claims: an interrupted one's are left behind, and
  // their groups' finished stages are shared, not trained again.
  const std::filesystem::path claims = logs / (".claims-" + std::to_string(::getpid()));
  std::filesystem::remove_all(claims);
  args.push_back("--claim-dir");
  args.push_back(claims.string());
  std::vector<pid_t> children;
  forward_stop_signals();
  for (int64_t k = 0; k < jobs; ++k) {
    std::vector<std::string> shard_args = args;
    shard_args.push_back("--shard");
    shard_args.push_back(std::to_string(k) + "/" + std::to_string(jobs));
    children.push_back(spawn_logged(shard_args, env, shard_log(logs, k)));
    shard_pids[k] = children.back();
    shard_count = static_cast<sig_atomic_t>(k + 1);
    std::fprintf(stderr, "reproduce: shard %lld of %lld training (%lld OpenMP threads), output in %s\n",
                 static_cast<long long>(k), static_cast<long long>(jobs), static_cast<long long>(threads),
                 shard_log(logs, k).c_str());
  }
  const std::string failed = follow_shards(children, logs);
  std::filesystem::remove_all(claims);
  if (!failed.empty()) throw std::runtime_error("--jobs: a shard failed; finished runs are kept, see " + failed);
}

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string s; std::getline(in, s, ',');) {
    if (!s.empty()) out.push_back(s);
  }
  return out;
}
}  // namespace

int run_reproduce(int argc, char** argv) {
  const Args args(argc, argv, {"--scale", "--only", "--seeds", "--device", "--jobs", "--shard", "--claim-dir"},
                  {"--check", "--plan", "--claims", "--tf32", "--no-train"});
  args.expect_positional(0, "no positional arguments");
  if (!args.has("--scale")) throw std::invalid_argument("--scale is required (tiny, mini, gpu or paper)");
  ReproduceOptions o;
  o.scale = args.get("--scale");
  o.only = split(args.get("--only"));
  o.seeds = args.count("--seeds", 0);
  if (args.has("--claims")) {
    std::fputs(claims_table(o.results_dir, o.scale).c_str(), stdout);
    return 0;
  }
  o.plan = args.has("--plan");
  if (o.plan && args.has("--check")) throw std::invalid_argument("--plan and --check exclude each other");
  o.device = parse_device(args.get("--device", "cpu"));
  set_allow_tf32(args.has("--tf32"));
  // --no-train leaves the numbers as the same command without it would make
  // them, and that command makes them from nothing: it is the one recorded.
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no-train") != 0) o.command += (i ? " " : "taper ") + std::string(argv[i]);
  }
  o.no_train = args.has("--no-train");
  const bool check = args.has("--check");
  const int64_t jobs = args.count("--jobs", 1);
  if (jobs < 1 || jobs > kMaxJobs) {
    throw std::invalid_argument("--jobs: expected 1 to " + std::to_string(kMaxJobs) + " processes, got " +
                                std::to_string(jobs));
  }
  if (args.has("--shard")) std::tie(o.shard, o.shards) = parse_shard(args.get("--shard"));
  if (args.has("--claim-dir") && !args.has("--shard")) throw std::invalid_argument("--claim-dir goes with --shard");
  o.claims_dir = args.get("--claim-dir");
  if ((jobs > 1 || o.shards > 1) && o.plan) throw std::invalid_argument("--jobs and --shard train: not with --plan");
  if (jobs > 1 && args.has("--shard")) throw std::invalid_argument("--jobs runs the shards itself: not with --shard");
  if (o.no_train && (jobs > 1 || o.shards > 1 || check)) {
    throw std::invalid_argument("--no-train trains nothing: not with --jobs, --shard or --check");
  }
  // The tiny scale trains in minutes and guards the code's numbers, so they
  // always come from the code at hand; --check's results are thrown away.
  o.ledger = o.scale != "tiny" && !check;
  if (check) {
    o.results_dir = "build/regress/results";
    o.runs_dir = "build/regress/runs";
  }
  if (o.shards > 1) {  // one of --jobs' processes: it trains, the parent checks
    reproduce(o);
    return 0;
  }
  if (jobs > 1) {
    check_experiments(o);  // a bad name or file fails here, not in every shard
    train_in_processes(argc, argv, jobs, std::filesystem::path(o.runs_dir) / o.scale);
  }
  if (!check) {
    reproduce(o);
    return 0;
  }
  const std::vector<std::string> failures = regression_failures(o, reproduce(o), "results");
  for (const auto& f : failures) std::fprintf(stderr, "regress: %s\n", f.c_str());
  std::fprintf(stderr, "regress: %s\n", failures.empty() ? "every number within tolerance" : "FAILED");
  return failures.empty() ? 0 : 1;
}

}  // namespace taper::cli
