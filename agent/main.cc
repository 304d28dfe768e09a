// The deputy executable: the agent library plus this thin main().
#include "agent/cli.h"

int main(int argc, char** argv) { return deputy::cli::Main(argc, argv); }
