import BerthCLI
import Glibc

exit(Berth.main(Array(CommandLine.arguments.dropFirst())))
