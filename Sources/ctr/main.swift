import CtrCLI
import Glibc

exit(Ctr.main(Array(CommandLine.arguments.dropFirst())))
