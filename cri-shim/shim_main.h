// The shim's commands (shim_main.cc is only main()).
#pragma once

namespace xg::shim {
int shim_main(int argc, char** argv);
}
