// The one way R's headers come into this project. Rcpp sets R_NO_REMAP
// and the other macros R needs before it includes R's own headers, so
// every file that touches R includes this header and nothing else of R.
#pragma once

#include <Rcpp.h>

#include <R_ext/GraphicsDevice.h> // R_interrupts_pending
#include <Rinterface.h>
