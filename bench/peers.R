# The peers of the bench: R's parallel package (a PSOCK cluster), future
# with plan(multisession), and the R package mirai when it is installed,
# measured on the same trivial tasks and payloads as mirai-cpp.
#
#   Rscript peers.R [--trips N] [--future-trips N] [--tasks N]
#                   [--map-tasks N] [--payload-bytes N] [--repeats N]
#
# Output: one "<peer>.<metric> <value>" line per result (times in seconds,
# memory in MB), and "skip <peer> <reason>" for a peer that cannot run.
# Every cluster and plan is shut down before the script ends.

option_value <- function(args, name, default) {
  at <- match(name, args)
  if (is.na(at)) return(default)
  value <- suppressWarnings(as.numeric(args[at + 1L]))
  if (is.na(value) || value <= 0)
    stop(name, ": expected a positive number, got '", args[at + 1L], "'")
  value
}

args <- commandArgs(trailingOnly = TRUE)
trips <- option_value(args, "--trips", 2000)
future_trips <- option_value(args, "--future-trips", 200)
tasks <- option_value(args, "--tasks", 2000)
map_tasks <- option_value(args, "--map-tasks", 10000)
payload_doubles <- option_value(args, "--payload-bytes", 1e8) / 8
repeats <- option_value(args, "--repeats", 5)

report <- function(peer, metric, value) {
  cat(sprintf("%s.%s %.9g\n", peer, metric, value))
  flush(stdout())
}

elapsed <- function(expr) {
  start <- Sys.time()
  force(expr)
  as.numeric(Sys.time() - start, units = "secs")
}

# Median and 99th percentile (nearest rank) of n sequential calls of f.
round_trips <- function(f, n) {
  for (i in seq_len(max(1, n %/% 10))) f()
  times <- numeric(n)
  for (i in seq_len(n)) {
    start <- Sys.time()
    f()
    times[i] <- as.numeric(Sys.time() - start, units = "secs")
  }
  times <- sort(times)
  c(median = times[ceiling(0.5 * n)], p99 = times[ceiling(0.99 * n)])
}

rss_mb <- function(pid) {
  lines <- readLines(sprintf("/proc/%d/status", as.integer(pid)))
  line <- grep("^VmRSS:", lines, value = TRUE)
  as.numeric(gsub("[^0-9]", "", line)) / 1024
}

median_of <- function(n, f) median(vapply(seq_len(n), function(i) f(), 0))

# A materialised vector: as.double(seq_len(n)) would stay a compact ALTREP
# sequence, which serializes to a few bytes.
make_payload <- function() seq_len(payload_doubles) + 0.5

run_peer <- function(peer, f) {
  tryCatch(f(), error = function(e)
    cat(sprintf("skip %s %s\n", peer, gsub("\n", " ", conditionMessage(e)))))
}

measure_psock <- function() {
  library(parallel)
  for (n in c(2L, 4L)) {
    cl <- NULL
    seconds <- elapsed({
      cl <- makePSOCKcluster(n)
      clusterEvalQ(cl, NULL)
    })
    report("psock", sprintf("startup%d_seconds", n), seconds)
    if (n == 4L) {
      Sys.sleep(0.2)
      pids <- unlist(clusterEvalQ(cl, Sys.getpid()))
      report("psock", "idle_rss_mb", median(vapply(pids, rss_mb, 0)))
    }
    stopCluster(cl)
  }

  cl <- makePSOCKcluster(1L)
  on.exit(stopCluster(cl), add = TRUE)
  latency <- round_trips(function() clusterCall(cl, function() 1), trips)
  report("psock", "latency_median", latency[["median"]])
  report("psock", "latency_p99", latency[["p99"]])
  report("psock", "latency_trips", trips)

  x <- make_payload()
  send <- median_of(repeats, function()
    elapsed(clusterCall(cl, function(x) length(x), x)))
  rm(x)
  report("psock", "payload_send_seconds", send)
  clusterCall(cl, function(n) {
    payload <<- seq_len(n) + 0.5
    NULL
  }, payload_doubles)
  back <- median_of(repeats, function()
    elapsed(clusterEvalQ(cl, payload)))
  report("psock", "payload_return_seconds", back)

  cl2 <- makePSOCKcluster(2L)
  on.exit(stopCluster(cl2), add = TRUE)
  clusterApplyLB(cl2, seq_len(10), function(x) x)
  seconds <- elapsed(clusterApplyLB(cl2, seq_len(tasks), function(x) x))
  report("psock_lb", "tasks", tasks)
  report("psock_lb", "seconds", seconds)
  report("psock_lb", "per_task", seconds / tasks)
  seconds <- elapsed(parLapply(cl2, seq_len(map_tasks), function(x) x))
  report("parlapply", "tasks", map_tasks)
  report("parlapply", "seconds", seconds)
  report("parlapply", "per_task", seconds / map_tasks)
}

measure_future <- function() {
  suppressPackageStartupMessages({
    library(future)
    library(future.apply)
  })
  on.exit(plan(sequential), add = TRUE)

  seconds <- elapsed({
    plan(multisession, workers = 4L)
    future_lapply(1:4, function(x) x, future.scheduling = Inf)
  })
  report("future", "startup4_seconds", seconds)
  plan(sequential)

  # With workers = 1, multisession evaluates futures in this process, so
  # two workers are needed to measure a real worker; the sequential round
  # trips then use one worker at a time.
  plan(multisession, workers = 2L)
  pid <- value(future(Sys.getpid()))
  if (pid == Sys.getpid())
    stop("future ran in the main process, not in a worker")
  Sys.sleep(0.2)
  report("future", "idle_rss_mb", rss_mb(pid))
  latency <- round_trips(function() value(future(1)), future_trips)
  report("future", "latency_median", latency[["median"]])
  report("future", "latency_p99", latency[["p99"]])
  report("future", "latency_trips", future_trips)
  x <- make_payload()
  send <- median_of(repeats, function() elapsed(value(future(length(x)))))
  rm(x)
  report("future", "payload_send_seconds", send)

  future_lapply(seq_len(10), function(x) x)
  seconds <- elapsed(future_lapply(seq_len(map_tasks), function(x) x))
  report("future_apply", "tasks", map_tasks)
  report("future_apply", "seconds", seconds)
  report("future_apply", "per_task", seconds / map_tasks)
}

# The R package mirai 2.x: daemons() returns before its daemons connect,
# so startup waits for the connections, then for one task per daemon.
measure_mirai <- function() {
  if (!requireNamespace("mirai", quietly = TRUE))
    stop("the R package mirai is not installed")
  on.exit(mirai::daemons(0), add = TRUE)
  connections <- function() mirai::status()[["connections"]]
  for (n in c(2L, 4L)) {
    seconds <- elapsed({
      mirai::daemons(n)
      while (connections() < n) Sys.sleep(0.001)
      mirai::everywhere(NULL)
      mirai::mirai_map(seq_len(n), function(x) x)[]
    })
    report("mirai", sprintf("startup%d_seconds", n), seconds)
    mirai::daemons(0)
  }

  mirai::daemons(1L)
  while (connections() < 1L) Sys.sleep(0.001)
  pid <- mirai::mirai(Sys.getpid())[]
  Sys.sleep(0.2)
  report("mirai", "idle_rss_mb", rss_mb(pid))
  latency <- round_trips(function() mirai::mirai(1)[], trips)
  report("mirai", "latency_median", latency[["median"]])
  report("mirai", "latency_p99", latency[["p99"]])
  report("mirai", "latency_trips", trips)
  x <- make_payload()
  send <- median_of(repeats, function()
    elapsed(mirai::mirai(length(x), x = x)[]))
  rm(x)
  report("mirai", "payload_send_seconds", send)
  mirai::mirai(payload <<- seq_len(n) + 0.5, n = payload_doubles)[]
  back <- median_of(repeats, function() elapsed(mirai::mirai(payload)[]))
  report("mirai", "payload_return_seconds", back)
  mirai::daemons(0)

  mirai::daemons(2L)
  while (connections() < 2L) Sys.sleep(0.001)
  mirai::mirai_map(seq_len(10), function(x) x)[]
  seconds <- elapsed(mirai::mirai_map(seq_len(map_tasks), function(x) x)[])
  report("mirai", "map_tasks", map_tasks)
  report("mirai", "map_seconds", seconds)
  report("mirai", "map_per_task", seconds / map_tasks)
}

run_peer("psock", measure_psock)
run_peer("future", measure_future)
run_peer("mirai", measure_mirai)
