import BerthCore
import Linux
import SupervisorAPI
import Testing

struct PortMappingTests {
    @Test func publishedPortsParseAsDockerWritesThem() throws {
        #expect(try PortMapping(parsing: "8080:80") == PortMapping(hostPort: 8080, containerPort: 80))
        #expect(try PortMapping(parsing: "127.0.0.1:8080:80/tcp") == PortMapping(address: "127.0.0.1", hostPort: 8080, containerPort: 80))
        #expect(try PortMapping(parsing: "8080:80").description == "0.0.0.0:8080->80/tcp")
        #expect(try ListenAddress(parsing: "8080") == ListenAddress(port: 8080))
        #expect(try ListenAddress(parsing: "10.0.0.1:443") == ListenAddress(address: "10.0.0.1", port: 443))
    }

    @Test(arguments: [
        ("80", "is not [ADDRESS:]HOST:CONTAINER"),
        ("8080:80/udp", "only tcp ports"),
        ("0:80", "\"0\" is not a port"),
        ("8080:65536", "\"65536\" is not a port"),
        ("8080:-1", "\"-1\" is not a port"),
        ("1.2.3:8080:80", "is not an IPv4 address"),
        ("256.0.0.1:8080:80", "is not an IPv4 address"),
        ("::1:8080:80", "is not [ADDRESS:]HOST:CONTAINER"),
    ])
    func badPublishedPortsAreRefusedNamingTheFlag(text: String, message: String) {
        do {
            _ = try PortMapping(parsing: text)
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.hasPrefix("flag -p: \"\(text)\""))
            #expect(error.description.contains(message))
            #expect(error.description.contains("e.g. -p 8080:80"))
        }
    }

    @Test func badListenAddressesAreRefused() {
        for text in ["", "x", "1.2.3.4:0", "1.2.3.4:80:81"] {
            #expect(throws: BerthError.self) { _ = try ListenAddress(parsing: text) }
        }
    }
}
