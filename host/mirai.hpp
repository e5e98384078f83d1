// The whole host API in one include.
#pragma once

#include "host/daemons.hpp"
#include "host/data.hpp"
#include "host/error.hpp"
#include "host/handle.hpp"
#include "host/map.hpp"
#include "host/session.hpp"
#include "host/task.hpp"
