// The R side of sync: functions written in R, parsed once into a private
// environment (its parent is the base environment, so objects in the
// global environment cannot mask what they call).
//
// Everything here calls the R API and must run on R's thread.
#pragma once

#include "sync/r.hpp"

namespace mirai {
namespace sync {
namespace detail {

// The R source of the support functions, parsed by install_r_support().
const char* support_source();

// The R function called name in the private environment, installing the
// R support first if needed. Throws std::runtime_error when name does not
// exist or installation fails. The result stays protected for the life
// of the process.
SEXP support_function(const char* name);

// A miraiError made at installation and kept, for the one case where a
// new error object cannot be built (R is out of memory). Returns
// R_NilValue until install_r_support() has succeeded.
SEXP fallback_error();

} // namespace detail
} // namespace sync
} // namespace mirai
