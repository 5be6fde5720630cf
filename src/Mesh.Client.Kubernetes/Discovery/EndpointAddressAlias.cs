// The core is splitting Mesh.Client.Discovery.Endpoint into an immutable address (Mesh.Client.EndpointAddress) and the
// live record it keeps. This package only produces addresses, so it names them EndpointAddress already, and it builds
// them in one place (EndpointSliceProjection.CreateAddress). Once the core has Mesh.Client.EndpointAddress, that type
// is found first (this code's namespaces are inside Mesh.Client) and this alias can simply be deleted.
global using EndpointAddress = Mesh.Client.Discovery.Endpoint;
