app documentation, merged beside the base doc directory
