// The ledger of finished runs: results/<scale>/runs/<run>/ holds each finished
// run's config, epoch log and evaluation and analysis JSON files, without its
// checkpoints, and is committed beside the results. Run folders (runs/<scale>/)
// hold the checkpoints, hundreds of megabytes, and stay on the machine that
// trained them; the ledger travels with the repository, so that a fresh clone
// resumes a scale where the last one stopped instead of training its finished
// runs again (a mini scale takes many sessions on two cores).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

namespace taper {

// Copies every record of `ledger` into `runs` where the run's folder lacks
// it; a run restored this way has a recorded.json (the record's provenance)
// and no checkpoints. A folder holding neither an eval.json nor a
// recorded.json (a run training, or interrupted) is left as it is. Restores
// and forget_restored take runs/<scale>.ledger.lock, so that processes
// sharing the folder (--jobs) do not interleave them.
void restore_runs(const std::filesystem::path& ledger, const std::filesystem::path& runs);

// Records a finished run folder (one with an eval.json; others are left
// alone): its config, log and JSON results go to ledger/<folder name>/, each
// JSON file with `provenance` (commit, date, machine, command) under
// "recorded" when its results are new to the ledger, and recorded.json there
// holds the provenance of the run's eval.json.
void record_run(const std::filesystem::path& dir, const std::filesystem::path& ledger,
                const nlohmann::json& provenance);

// Whether a run folder came from the ledger rather than from training here:
// it has the run's results but no checkpoints to evaluate anew.
bool is_restored(const std::filesystem::path& dir);

// Makes a restored run folder an untrained one, holding only its config, so
// that training it again writes its checkpoints.
void forget_restored(const std::filesystem::path& dir);

}  // namespace taper
