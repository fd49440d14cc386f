// What both fuzz targets do with a plan once they have one: load it and run it when that is
// cheap, treating kiln::Error as the only acceptable failure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln::fuzz {

void try_load_and_run(const std::vector<uint8_t>& plan, const std::string& origin);

}  // namespace kiln::fuzz
