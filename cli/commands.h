// The subcommands of build/taper.
#pragma once

#include <cstdio>
#include <vector>

namespace taper::cli {

struct Command {
  const char* name;
  const char* summary;
  const char* help;                   // printed for `taper <name> --help`
  int (*run)(int argc, char** argv);  // argv[0] is the command name
};

const std::vector<Command>& all_commands();
void print_usage(std::FILE* out);

// Each command's --help text, beside its code.
extern const char kDatasetHelp[], kTrainHelp[], kEvalHelp[], kPersonalizeHelp[], kPredictHelp[], kReproduceHelp[],
    kInspectHelp[];

int run_dataset(int argc, char** argv);  // cli/dataset.cpp
int run_train(int argc, char** argv);    // cli/train.cpp
int run_eval(int argc, char** argv);     // cli/train.cpp
int run_personalize(int argc, char** argv);  // cli/personalize.cpp
int run_predict(int argc, char** argv);      // cli/personalize.cpp
int run_reproduce(int argc, char** argv);    // cli/reproduce.cpp
int run_inspect(int argc, char** argv);      // cli/inspect.cpp

}  // namespace taper::cli
